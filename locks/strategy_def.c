/* strategy_def.c - reading strategy definition files (strategy_def.h) and registering them.
 *
 * A definition is input written by hand, so it is held to the scenario files' rule: a bad
 * one is refused before anything starts, with "path:line: what is wrong", and the command
 * line exits 2. The file is read in two passes. libinih tokenises, through our own line
 * reader (Debian builds inih without INI_HANDLER_LINENO, so its handler never learns the
 * line; inih finishes each line before asking for the next, so while the handler runs the
 * reader's count is the key's line - the technique of scenario_reader.c). The first pass
 * only records every key with its line, since a key's meaning depends on `kind`, which may
 * come after it; the second interprets them all, knowing the kind.
 *
 * One thing a well-formed definition may lack is its program: an adapter run by `node` on
 * a machine without node. That is not the file's fault, and the machine may still run every
 * other strategy, so the definition loads, registers and is listed, with the reason in
 * def->unavailable; a run that selects it is refused then (the command line's job). */
#include "locks/strategy_def.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "core/endpoint.h"
#include "core/util.h"

/* The keys of [strategy]; which kinds take them. */
enum { K_ALL, K_ADAPTER, K_LUA };
static const struct {
    const char *name;
    int kind;
} strategy_keys[] = {
    { "name", K_ALL },        { "kind", K_ALL },         { "summary", K_ALL },
    { "claims_safe", K_ALL }, { "nodes", K_ALL },        { "operation", K_ALL },
    { "command", K_ADAPTER }, { "shop", K_ADAPTER },     { "fencing", K_ADAPTER },
    { "timeout", K_ADAPTER }, { "acquire", K_LUA },      { "release", K_LUA },
    { "execute", K_LUA },     { "execute_booking", K_LUA }, { "claims_live", K_ALL },
    { "execute_stream", K_LUA }, { "key_prefix", K_ADAPTER },
};
#define N_SKEYS (sizeof(strategy_keys) / sizeof(strategy_keys[0]))
#define ADAPTER_KEYS "name, kind, summary, claims_safe, claims_live, nodes, operation, " \
                     "command, shop, fencing, timeout, key_prefix"
#define LUA_KEYS "name, kind, summary, claims_safe, claims_live, nodes, operation, " \
                 "acquire, release, execute, execute_booking, execute_stream"

static const char *const param_keys[] = { "default", "unit", "choices", "min", "max", "help",
                                          NULL };
enum { P_DEFAULT, P_UNIT, P_CHOICES, P_MIN, P_MAX, P_HELP, N_PKEYS };

/* A key as written: its value and line (0 when absent). */
typedef struct kv {
    char val[OVS_DEF_PATH_MAX];
    int line;
} kv;

typedef struct psec {
    char name[32];
    int line;          /* of the [param NAME] header */
    kv key[N_PKEYS];
} psec;

typedef struct reader {
    FILE *f;
    const char *path;
    int line;            /* of the line inih is working on */
    int in_strategy;     /* the current section: [strategy] */
    int cur_param;       /* index into param[], or -1 */
    int seen_strategy;   /* line of [strategy], 0 if none yet */
    kv skey[N_SKEYS];
    psec param[OVS_MAX_PARAMS];
    int n_params;
    int failed;
    char *err;
    size_t errlen;
} reader;

__attribute__((format(printf, 3, 4))) static int fail(reader *r, int line, const char *fmt,
                                                      ...)
{
    char msg[400];
    va_list ap;

    if (r->failed)
        return -1;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        ovs_seterr(r->err, r->errlen, "%s:%d: %s", r->path, line, msg);
    else
        ovs_seterr(r->err, r->errlen, "%s: %s", r->path, msg);
    return -1;
}

/* ---- the first pass: lines, sections, keys ------------------------------------------- */

static int valid_param_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((psec *)0)->name))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* A section header line, "[...]" already stripped on the left. */
static int header(reader *r, const char *s)
{
    char buf[128], *name, *arg;
    const char *end = strchr(s, ']');

    if (end == NULL)
        return fail(r, r->line, "section header '%.60s' has no closing ']'", s);
    snprintf(buf, sizeof(buf), "%.*s", (int)(end - s - 1), s + 1);
    name = ovs_trim(buf);
    for (arg = name; *arg && !isspace((unsigned char)*arg); arg++)
        ;
    if (*arg)
        *arg++ = '\0';
    arg = ovs_trim(arg);
    r->in_strategy = 0;
    r->cur_param = -1;
    if (strcmp(name, "strategy") == 0 && *arg == '\0') {
        if (r->seen_strategy)
            return fail(r, r->line, "duplicate section [strategy] (first at line %d)",
                        r->seen_strategy);
        r->seen_strategy = r->line;
        r->in_strategy = 1;
        return 0;
    }
    if (strcmp(name, "param") == 0) {
        if (!valid_param_name(arg))
            return fail(r, r->line, "[param NAME] needs a name of lowercase letters, digits "
                        "and '_', at most %zu characters, not '%.40s'",
                        sizeof(((psec *)0)->name) - 1, arg);
        for (int i = 0; i < r->n_params; i++)
            if (strcmp(r->param[i].name, arg) == 0)
                return fail(r, r->line, "duplicate section [param %s] (first at line %d)",
                            arg, r->param[i].line);
        if (r->n_params == OVS_MAX_PARAMS)
            return fail(r, r->line, "too many parameters (at most %d)", OVS_MAX_PARAMS);
        snprintf(r->param[r->n_params].name, sizeof(r->param[0].name), "%s", arg);
        r->param[r->n_params].line = r->line;
        r->cur_param = r->n_params++;
        return 0;
    }
    return fail(r, r->line, "unknown section [%.40s%s%.40s] (known: [strategy], [param NAME])",
                name, *arg ? " " : "", arg);
}

/* inih's reader: one physical line at a time, counted, stripped on the left (so inih's
 * continuation lines never apply), section headers seen here since inih reports none. */
static char *read_line(char *str, int num, void *stream)
{
    reader *r = stream;
    char *s;
    size_t n;

    if (r->failed || fgets(str, num, r->f) == NULL)
        return NULL;
    r->line++;
    n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(r->f)) {
        fail(r, r->line, "line longer than %d characters", num - 2);
        return NULL;
    }
    for (s = str; *s == ' ' || *s == '\t'; s++)
        ;
    memmove(str, s, strlen(s) + 1);
    if (str[0] == '[' && header(r, str) != 0)
        return NULL;
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    kv *slot = NULL;

    (void)section; /* the reader knows the section, and checked its header */
    if (r->failed)
        return 0;
    if (r->in_strategy) {
        for (size_t i = 0; i < N_SKEYS; i++)
            if (strcmp(name, strategy_keys[i].name) == 0)
                slot = &r->skey[i];
        if (slot == NULL)
            return fail(r, r->line, "unknown key '%.40s' in [strategy] (known: %s, %s)", name,
                        "name, kind, summary, claims_safe, claims_live, nodes, operation",
                        "command, shop, fencing, timeout, key_prefix (adapter); acquire, release, "
                        "execute, execute_booking, execute_stream (lua)"), 0;
    } else if (r->cur_param >= 0) {
        for (int i = 0; param_keys[i]; i++)
            if (strcmp(name, param_keys[i]) == 0)
                slot = &r->param[r->cur_param].key[i];
        if (slot == NULL)
            return fail(r, r->line, "unknown key '%.40s' in [param %s] (known: default, "
                        "unit, choices, min, max, help)", name,
                        r->param[r->cur_param].name), 0;
    } else {
        return fail(r, r->line, "'%.40s' outside any section (start with [strategy])", name),
               0;
    }
    if (slot->line)
        return fail(r, r->line, "duplicate key '%.40s' (first at line %d)", name, slot->line),
               0;
    if (strlen(value) >= sizeof(slot->val))
        return fail(r, r->line, "the value of '%s' is longer than %zu characters", name,
                    sizeof(slot->val) - 1), 0;
    snprintf(slot->val, sizeof(slot->val), "%s", value);
    slot->line = r->line;
    return 1;
}

/* ---- the second pass: what the keys mean --------------------------------------------- */

static const kv *skey(const reader *r, const char *name)
{
    for (size_t i = 0; i < N_SKEYS; i++)
        if (strcmp(strategy_keys[i].name, name) == 0)
            return &r->skey[i];
    return NULL; /* not reached: callers name keys of the table */
}

static int need(reader *r, const char *name)
{
    if (skey(r, name)->line == 0)
        return fail(r, r->seen_strategy, "[strategy] has no '%s'", name);
    return 0;
}

static int yes_no(reader *r, const char *name, int *out)
{
    const kv *k = skey(r, name);
    if (strcmp(k->val, "yes") == 0)
        *out = 1;
    else if (strcmp(k->val, "no") == 0)
        *out = 0;
    else
        return fail(r, k->line, "%s: '%.40s' is not yes or no", name, k->val);
    return 0;
}

/* path made absolute against dir when relative, into out. */
static int resolve(const char *dir, const char *path, char *out, size_t len)
{
    int n = path[0] == '/' ? snprintf(out, len, "%s", path)
                           : snprintf(out, len, "%s/%s", dir, path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A number in a parameter's unit: ms takes a bare number of ms or a duration ("5s"). */
static int param_number(const char *unit, const char *text, double *out)
{
    int64_t ns;

    if (ovs_parse_double(text, out) == 0)
        return 0;
    if (unit && strcmp(unit, "ms") == 0 && ovs_parse_duration(text, &ns) == 0) {
        *out = (double)ns / 1e6;
        return 0;
    }
    return -1;
}

/* A copy the definition owns, or NULL after failing with "out of memory". */
static const char *keep(reader *r, const char *s, int line)
{
    char *c = strdup(s);
    if (c == NULL)
        fail(r, line, "out of memory");
    return c;
}

static int read_param(reader *r, const psec *ps, ovs_param_spec *spec,
                      const ovs_strategy_def *def)
{
    const kv *k = ps->key;
    const char *unit = k[P_UNIT].line ? k[P_UNIT].val : NULL;
    ovs_strategy_methods probe;
    char why[300];

    if (k[P_HELP].line == 0)
        return fail(r, ps->line, "[param %s] has no 'help' (the line `oversell list` prints)",
                    ps->name);
    if (k[P_DEFAULT].line == 0)
        return fail(r, ps->line, "[param %s] has no 'default'", ps->name);
    if ((k[P_UNIT].line != 0) == (k[P_CHOICES].line != 0))
        return fail(r, ps->line, "[param %s] needs exactly one of 'unit' (ms, count, ratio) "
                    "or 'choices' (a|b)", ps->name);
    memset(spec, 0, sizeof(*spec));
    if (unit) {
        if (strcmp(unit, "ms") != 0 && strcmp(unit, "count") != 0 &&
            strcmp(unit, "ratio") != 0)
            return fail(r, k[P_UNIT].line, "unit: '%.40s' is not ms, count or ratio", unit);
        spec->min = 0;
        spec->max = strcmp(unit, "ratio") == 0 ? 1 : 1e9;
        if (param_number(unit, k[P_DEFAULT].val, &spec->def) != 0)
            return fail(r, k[P_DEFAULT].line, "default: '%.40s' is not a number%s",
                        k[P_DEFAULT].val, strcmp(unit, "ms") == 0 ? " of ms or a duration" : "");
        if (k[P_MIN].line && param_number(unit, k[P_MIN].val, &spec->min) != 0)
            return fail(r, k[P_MIN].line, "min: '%.40s' is not a number", k[P_MIN].val);
        if (k[P_MAX].line && param_number(unit, k[P_MAX].val, &spec->max) != 0)
            return fail(r, k[P_MAX].line, "max: '%.40s' is not a number", k[P_MAX].val);
    } else {
        const char *c = k[P_CHOICES].val, *d = k[P_DEFAULT].val;
        size_t dl = strlen(d);
        int index = 0, found = -1;
        if (k[P_MIN].line || k[P_MAX].line)
            return fail(r, k[P_MIN].line ? k[P_MIN].line : k[P_MAX].line,
                        "min and max are for numbers, not choices");
        for (const char *p = c;; index++) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n == dl && strncmp(p, d, n) == 0)
                found = index;
            if (bar == NULL)
                break;
            p = bar + 1;
        }
        if (found < 0)
            return fail(r, k[P_DEFAULT].line, "default: '%.40s' is not one of %.100s", d, c);
        spec->def = found;
        if ((spec->choices = keep(r, c, k[P_CHOICES].line)) == NULL)
            return -1;
    }
    if ((spec->name = keep(r, ps->name, ps->line)) == NULL ||
        (unit && (spec->unit = keep(r, unit, k[P_UNIT].line)) == NULL) ||
        (spec->help = keep(r, k[P_HELP].val, k[P_HELP].line)) == NULL)
        return -1;
    /* The registry's own rule for parameter tables, applied to this one entry so that its
     * complaint can name the section. */
    probe = (ovs_strategy_methods){ .name = def->name, .params = spec, .n_params = 1 };
    if (ovs_params_check(&probe, why, sizeof(why)) != 0)
        return fail(r, ps->line, "[param %s]: %s", ps->name, why);
    return 0;
}

/* A script run through its "#!" line needs its interpreter too: `#!/usr/bin/env node`
 * on a machine without node would start, then exit 127 at every client's init. Say so
 * now, as for a missing program: unavailable, not wrong. */
static void check_interpreter(ovs_strategy_def *def, int line)
{
    char head[256], found[OVS_DEF_PATH_MAX], *save = NULL;
    FILE *f = fopen(def->argv[0], "r");
    const char *interp, *arg;

    if (f == NULL)
        return;
    if (fgets(head, sizeof(head), f) == NULL || strncmp(head, "#!", 2) != 0) {
        fclose(f);
        return;
    }
    fclose(f);
    interp = strtok_r(head + 2, " \t\r\n", &save);
    arg = strtok_r(NULL, " \t\r\n", &save);
    if (interp == NULL)
        return;
    if (access(interp, X_OK) != 0) {
        ovs_seterr(def->unavailable, sizeof(def->unavailable), "%s:%d: %s runs under %s: %s",
                   def->path, line, def->argv[0], interp, strerror(errno));
    } else if (strcmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp, "env") == 0 &&
               arg != NULL && arg[0] != '-' &&
               ovs_find_executable(arg, found, sizeof(found)) != 0) {
        ovs_seterr(def->unavailable, sizeof(def->unavailable),
                   "%s:%d: %s runs under '%s', not found on PATH", def->path, line,
                   def->argv[0], arg);
    }
}

/* Split an adapter's command on blanks, resolve its paths, and see whether its program
 * is there. A missing program makes the definition unavailable, not wrong. */
static int read_command(reader *r, ovs_strategy_def *def)
{
    const kv *k = skey(r, "command");
    char buf[OVS_DEF_PATH_MAX], *save = NULL, *w;

    snprintf(buf, sizeof(buf), "%s", k->val);
    def->argc = 0;
    for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *slot;
        if (def->argc == OVS_DEF_ARGV_MAX)
            return fail(r, k->line, "command: more than %d words", OVS_DEF_ARGV_MAX);
        slot = def->argv[def->argc];
        /* A word with a '/' that is not an option is a path of the definition's own:
         * relative to its directory, so a definition and its program travel together. */
        if (strchr(w, '/') && w[0] != '-' && w[0] != '/') {
            if (resolve(def->dir, w, slot, OVS_DEF_PATH_MAX) != 0)
                return fail(r, k->line, "command: path '%.60s' too long", w);
            if (def->argc > 0 && access(slot, F_OK) != 0)
                return fail(r, k->line, "command: %s: %s", slot, strerror(errno));
        } else {
            snprintf(slot, OVS_DEF_PATH_MAX, "%s", w);
        }
        def->argc++;
    }
    if (def->argc == 0)
        return fail(r, k->line, "command is empty");
    if (strchr(def->argv[0], '/')) {
        if (access(def->argv[0], X_OK) != 0)
            ovs_seterr(def->unavailable, sizeof(def->unavailable), "%s:%d: %s: %s", def->path,
                     k->line, def->argv[0], strerror(errno));
        else
            check_interpreter(def, k->line);
    } else {
        char found[OVS_DEF_PATH_MAX];
        if (ovs_find_executable(def->argv[0], found, sizeof(found)) == 0)
            snprintf(def->argv[0], OVS_DEF_PATH_MAX, "%s", found);
        else
            ovs_seterr(def->unavailable, sizeof(def->unavailable),
                       "%s:%d: '%s' not found on PATH", def->path, k->line, def->argv[0]);
    }
    return 0;
}

static int read_script(reader *r, ovs_strategy_def *def, const char *key, char *out)
{
    const kv *k = skey(r, key);

    out[0] = '\0';
    if (k->line == 0)
        return 0;
    if (k->val[0] == '\0')
        return fail(r, k->line, "%s is empty", key);
    if (resolve(def->dir, k->val, out, OVS_DEF_PATH_MAX) != 0)
        return fail(r, k->line, "%s: path too long", key);
    if (access(out, R_OK) != 0)
        return fail(r, k->line, "%s: cannot read script %s: %s", key, out, strerror(errno));
    return 0;
}

static int interpret(reader *r, ovs_strategy_def *def)
{
    const kv *k;
    int lua, lock = 0;

    if (r->seen_strategy == 0)
        return fail(r, 0, "no [strategy] section");
    if (need(r, "kind"))
        return -1;
    k = skey(r, "kind");
    if (strcmp(k->val, "adapter") == 0)
        def->kind = OVS_DEF_ADAPTER;
    else if (strcmp(k->val, "lua") == 0)
        def->kind = OVS_DEF_LUA;
    else
        return fail(r, k->line, "kind: '%.40s' is not adapter or lua", k->val);
    lua = def->kind == OVS_DEF_LUA;
    for (size_t i = 0; i < N_SKEYS; i++)
        if (r->skey[i].line && strategy_keys[i].kind == (lua ? K_ADAPTER : K_LUA))
            return fail(r, r->skey[i].line, "'%s' is a key of %s strategies; this one is "
                        "kind = %s (its keys: %s)", strategy_keys[i].name,
                        lua ? "adapter" : "lua", lua ? "lua" : "adapter",
                        lua ? LUA_KEYS : ADAPTER_KEYS);
    if (need(r, "name") || need(r, "summary") || need(r, "claims_safe"))
        return -1;

    k = skey(r, "name");
    if (strlen(k->val) > OVS_STRATEGY_NAME_MAX || k->val[0] == '\0' ||
        strspn(k->val, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(k->val))
        return fail(r, k->line, "name: '%.70s' is not a strategy name (1 to %d lowercase "
                    "letters, digits or '-')", k->val, OVS_STRATEGY_NAME_MAX);
    snprintf(def->name, sizeof(def->name), "%.63s", k->val); /* fits: checked above */
    k = skey(r, "summary");
    if (k->val[0] == '\0' || strlen(k->val) >= sizeof(def->summary))
        return fail(r, k->line, "summary: one line of 1 to %zu characters",
                    sizeof(def->summary) - 1);
    snprintf(def->summary, sizeof(def->summary), "%s", k->val);
    if (yes_no(r, "claims_safe", &def->claims_safe) != 0)
        return -1;
    def->claims_live = 1;
    if (skey(r, "claims_live")->line && yes_no(r, "claims_live", &def->claims_live) != 0)
        return -1;

    /* Parameters before nodes, which may name one. */
    def->n_params = r->n_params;
    for (int i = 0; i < r->n_params; i++)
        if (read_param(r, &r->param[i], &def->params[i], def) != 0)
            return -1;

    k = skey(r, "nodes");
    def->nodes = 1;
    if (k->line) {
        long long n;
        if (ovs_parse_int(k->val, 0, OVS_MAX_NODES, &n) == 0) {
            def->nodes = (int)n;
        } else {
            int found = -1;
            for (int i = 0; i < def->n_params; i++)
                if (strcmp(def->params[i].name, k->val) == 0)
                    found = i;
            if (found < 0)
                return fail(r, k->line, "nodes: '%.40s' is neither a number (0 to %d) nor a "
                            "parameter of this strategy", k->val, OVS_MAX_NODES);
            if (def->params[found].unit == NULL || strcmp(def->params[found].unit, "count") ||
                def->params[found].max > OVS_MAX_NODES)
                return fail(r, k->line, "nodes: parameter '%s' must have unit = count and max "
                            "at most %d", k->val, OVS_MAX_NODES);
            /* fits: a parameter's name, which [param NAME] keeps under 32 */
            snprintf(def->nodes_param, sizeof(def->nodes_param), "%.31s", k->val);
            def->nodes = 0;
        }
        if (lua && (def->nodes != 1 || def->nodes_param[0]))
            return fail(r, k->line, "nodes: a Lua strategy runs on one Redis, so nodes = 1");
    }

    k = skey(r, "operation");
    if (k->line) {
        if (strcmp(k->val, "lock") == 0)
            lock = 1;
        else if (strcmp(k->val, "whole") != 0)
            return fail(r, k->line, "operation: '%.40s' is not lock or whole", k->val);
    }

    if (!lua) {
        if (need(r, "operation") || need(r, "command") || read_command(r, def) != 0)
            return -1;
        def->operation = lock ? OVS_DEF_LOCK : OVS_DEF_WHOLE;
        def->shop = OVS_DEF_SHOP_WRITEBACK;
        if ((k = skey(r, "shop"))->line) {
            if (lock)
                return fail(r, k->line, "shop is for whole operations (operation = whole)");
            if (strcmp(k->val, "own") == 0)
                def->shop = OVS_DEF_SHOP_OWN;
            else if (strcmp(k->val, "writeback") != 0)
                return fail(r, k->line, "shop: '%.40s' is not writeback or own", k->val);
        }
        if ((k = skey(r, "fencing"))->line) {
            if (!lock)
                return fail(r, k->line, "fencing is for locks (operation = lock)");
            if (yes_no(r, "fencing", &def->fencing) != 0)
                return -1;
        }
        if ((k = skey(r, "key_prefix"))->line && yes_no(r, "key_prefix", &def->key_prefix) != 0)
            return -1;
        def->timeout_ms = 5000;
        if ((k = skey(r, "timeout"))->line) {
            int64_t ns;
            if (ovs_parse_duration(k->val, &ns) != 0 || ns <= 0)
                return fail(r, k->line, "timeout: '%.40s' is not a duration above 0 (like "
                            "5s or 500ms)", k->val);
            def->timeout_ms = (double)ns / 1e6;
        }
        return 0;
    }

    /* Lua: the scripts say which operation it is; operation, when given, must agree. */
    {
        const kv *acq = skey(r, "acquire"), *rel = skey(r, "release");
        const kv *exe = skey(r, "execute"), *book = skey(r, "execute_booking");
        const kv *str = skey(r, "execute_stream");
        int is_lock = acq->line || rel->line;
        if (is_lock && str->line)
            book = str;
        if (is_lock && (exe->line || book->line))
            return fail(r, exe->line ? exe->line : book->line, "a Lua strategy is a lock "
                        "(acquire and release) or a whole operation (execute), not both");
        if (is_lock && (acq->line == 0 || rel->line == 0))
            return fail(r, acq->line ? acq->line : rel->line, "a Lua lock needs both "
                        "acquire and release");
        if (!is_lock && exe->line == 0)
            return fail(r, book->line ? book->line : r->seen_strategy, "a Lua strategy needs "
                        "acquire and release (a lock) or execute (a whole operation)");
        if (skey(r, "operation")->line && lock != is_lock)
            return fail(r, skey(r, "operation")->line, "operation = %s, but the scripts make "
                        "it %s", lock ? "lock" : "whole", is_lock ? "a lock" : "a whole operation");
        def->operation = is_lock ? OVS_DEF_LOCK : OVS_DEF_WHOLE;
        if (is_lock) {
            int has_ttl = 0;
            for (int i = 0; i < def->n_params; i++)
                has_ttl |= strcmp(def->params[i].name, "ttl") == 0 &&
                           def->params[i].unit && strcmp(def->params[i].unit, "ms") == 0;
            if (!has_ttl)
                return fail(r, acq->line, "a Lua lock needs a [param ttl] with unit = ms "
                            "(its scripts' ARGV[2])");
        }
    }
    return read_script(r, def, "acquire", def->acquire) ||
           read_script(r, def, "release", def->release) ||
           read_script(r, def, "execute", def->execute) ||
           read_script(r, def, "execute_booking", def->execute_booking) ||
           read_script(r, def, "execute_stream", def->execute_stream);
}

/* ---- the public functions ------------------------------------------------------------ */

void ovs_strategy_def_free(ovs_strategy_def *def)
{
    for (int i = 0; def && i < OVS_MAX_PARAMS; i++) {
        free((void *)def->params[i].name);
        free((void *)def->params[i].unit);
        free((void *)def->params[i].choices);
        free((void *)def->params[i].help);
        def->params[i] = (ovs_param_spec){ 0 };
    }
}

/* ovs_strategy_def_load, also giving the line of the name key for later complaints. */
static int load(const char *path, ovs_strategy_def *def, int *name_line, char *err,
                size_t errlen)
{
    reader *r = calloc(1, sizeof(*r));
    char dir[OVS_DEF_PATH_MAX], real[PATH_MAX];
    const char *slash;
    int rc;

    memset(def, 0, sizeof(*def));
    if (r == NULL) {
        ovs_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    r->path = path;
    r->cur_param = -1;
    r->err = err;
    r->errlen = errlen;
    if (strlen(path) >= sizeof(def->path)) {
        fail(r, 0, "path longer than %zu characters", sizeof(def->path) - 1);
        goto out;
    }
    memcpy(def->path, path, strlen(path) + 1); /* fits: checked above */
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (realpath(dir, real) == NULL || strlen(real) >= sizeof(def->dir)) {
        fail(r, 0, "%s", errno ? strerror(errno) : "directory path too long");
        goto out;
    }
    snprintf(def->dir, sizeof(def->dir), "%s", real);
    r->f = fopen(path, "r");
    if (r->f == NULL) {
        fail(r, 0, "%s", strerror(errno));
        goto out;
    }
    rc = ini_parse_stream(read_line, r, on_key, r);
    if (ferror(r->f))
        fail(r, 0, "read error: %s", strerror(errno));
    if (rc > 0)
        fail(r, rc, "expected 'key = value', a [section] or a comment");
    if (!r->failed)
        interpret(r, def);
out:
    if (r->f)
        fclose(r->f);
    rc = r->failed ? -1 : 0;
    *name_line = skey(r, "name")->line;
    free(r);
    if (rc != 0)
        ovs_strategy_def_free(def);
    return rc;
}

int ovs_strategy_def_load(const char *path, ovs_strategy_def *def, char *err, size_t errlen)
{
    int name_line;
    return load(path, def, &name_line, err, errlen);
}

/* Definitions that were registered: the registry points into them, so they live until
 * the process ends, reachable from here. */
static ovs_strategy_def *registered[OVS_MAX_STRATEGIES];
static int n_registered_defs;

int ovs_strategy_def_register(const char *path, char *err, size_t errlen)
{
    ovs_strategy_def *def = malloc(sizeof(*def));
    const ovs_strategy_methods *m = NULL;
    char why[400], origin[OVS_STRATEGY_ORIGIN_MAX];
    int name_line, rc;

    if (def == NULL || n_registered_defs == OVS_MAX_STRATEGIES) {
        ovs_seterr(err, errlen, "%s: %s", path, def ? "too many definitions" : "out of memory");
        free(def);
        return -1;
    }
    if (load(path, def, &name_line, err, errlen) != 0) {
        free(def);
        return -1;
    }
    rc = def->kind == OVS_DEF_LUA ? ovs_lua_define(def, &m, why, sizeof(why))
                                  : ovs_adapter_define(def, &m, why, sizeof(why));
    if (rc != 0) {
        ovs_seterr(err, errlen, "%s: %s", path, why);
    } else {
        snprintf(origin, sizeof(origin), "file %s", path);
        rc = ovs_strategy_register_from(m, origin, def->unavailable, why, sizeof(why));
        if (rc != 0)
            ovs_seterr(err, errlen, "%s:%d: %s", path, name_line, why);
    }
    if (rc != 0) {
        ovs_strategy_def_free(def);
        free(def);
        return -1;
    }
    registered[n_registered_defs++] = def;
    return 0;
}

static int is_ini(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".ini") == 0;
}

int ovs_strategy_defs_register_dir(const char *dir, char *err, size_t errlen)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_ini, alphasort), rc = 0, done = 0;

    if (n < 0) {
        ovs_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[OVS_DEF_PATH_MAX];
        if (rc == 0) {
            if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
                (int)sizeof(path)) {
                ovs_seterr(err, errlen, "%s/%s: path too long", dir, names[i]->d_name);
                rc = -1;
            } else if (ovs_strategy_def_register(path, err, errlen) != 0) {
                rc = -1;
            } else {
                done++;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc == 0 ? done : -1;
}
