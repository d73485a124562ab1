/* explain.c - one recorded run told as a story: a time table and a Mermaid diagram.
 *
 * The events of a run (harness/recorder.h) are intervals per client: request, acquire,
 * check, act, critical, release, and the strategy's own steps. A student needs them as
 * moments instead: "at 150.2 ms Bob checks, the room looks free". So every event becomes
 * one row at its start, except where its end is the news: an answer arrives when the
 * request ends, and a lock that made a client wait gets a second row when it was finally
 * granted or refused. The think time between a check and its act, the race window every
 * scenario is about, gets a row of its own. Redlock's per-node steps are folded into the
 * acquire and release they belong to ("5/5 nodes").
 *
 * Then the verdict, from the checks the harness computed (never recomputed here), and
 * the step where each broken invariant broke, found in the events: the second booking of
 * one room, the first sale beyond the stock, the second holder of a lock. Those rules
 * are approximations of the checker's SQL (the events carry keys, not rooms and nights)
 * and each says where it can be wrong. */
#include "explain.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

/* The table fits this many columns for up to EX_MAX_COLUMNS clients. */
#define EX_WIDTH 100
#define EX_TIME_W 10      /* "  150.2 ms" */
#define EX_GAP 2          /* spaces between columns */
#define EX_MAX_COLUMNS 4  /* more clients than this: one line per step, client named */
#define EX_CELL_MAX 60    /* a lone client's column need not be 88 wide */
#define EX_NAME_MAX 12    /* the client column in the one-line-per-step layout */
/* A lock that answered within this long is one step; a longer wait gets a row when it
 * began and one when it ended, so the table shows the client waiting while others move.
 * 10 ms is far above a loopback round trip and far below any think time in a scenario. */
#define EX_WAIT_SHOWN (10 * OVS_NS_PER_MS)
/* A gap between a check and its act at least this long is shown as thinking. */
#define EX_THINK_SHOWN OVS_NS_PER_MS
/* Refused clients named in the "held" line; the rest are counted. */
#define EX_REFUSALS_NAMED 3
#define EX_MAX_BREAKS 4

#define EX_RED "\033[31m"
#define EX_GREEN "\033[32m"
#define EX_YELLOW "\033[33m"
#define EX_DIM "\033[2m"
#define EX_ALARM "\033[1;31m"
#define EX_RESET "\033[0m"

enum ex_op {
    EX_REQUEST, EX_ACQUIRE, EX_CHECK, EX_ACT, EX_CRITICAL, EX_RELEASE, EX_EXECUTE,
    EX_WRITEBACK, EX_NODE, EX_FAULT, EX_OTHER
};

/* As the recorder spells them (ovs_op_name), in enum ex_op order. */
static const char *const ex_op_names[] = {
    "request", "acquire", "check", "act", "critical", "release", "execute",
    "writeback", "node", "fault",
};

enum ex_outcome { EX_OK, EX_FAIL, EX_UNKNOWN };

typedef struct ex_event {
    int64_t start, end;    /* ns since the run's t0 */
    int client;            /* index in the scenario (or buyer); -1 for the harness */
    int op;                /* enum ex_op */
    int outcome;           /* enum ex_outcome */
    char opname[16];       /* as recorded, for an op this file does not know */
    char key[64];          /* the resource, "" when none */
    char detail[128];      /* free text, control characters made spaces */
    int inner;             /* request: the client recorded steps inside it */
    int rounds;            /* acquire: Redlock rounds seen in its node steps */
    int last_node;         /* acquire: node index of the latest lock step */
    int first_locked;      /* acquire: nodes locked in the first round... */
    int first_asked;       /* ... of how many asked */
    int64_t first_end;     /* ... and when that round ended */
    int nodes_ok, nodes;   /* acquire: last round locked/asked; release: released/asked */
    int folded;            /* node: shown as part of its acquire or release */
} ex_event;

typedef struct ex_check {
    char *invariant, *detail;
    long long observed, expected;
    int pass;
} ex_check;

/* Where an invariant broke, as a step of the table. */
typedef struct ex_break {
    const char *invariant; /* the check it places */
    size_t ev;          /* the step that broke it */
    int64_t t;          /* when the table shows that step */
    const char *shout;  /* the diagram's note: "double booking!" */
    int with_shop;      /* the note spans to Shop (1) or to Lock (0) */
    char why[200];      /* the rest of the "broke at" sentence */
} ex_break;

typedef struct ex_run {
    int64_t id;
    char *scenario, *strategy, *params, *workload, *status, *error, *verdict, *expect;
    char *figure, *description;
    uint64_t seed;
    int booking;                /* workload booking (else inventory) */
    ex_event *ev;               /* by start, enclosing events first */
    size_t n;
    int *ids;                   /* clients to show, ascending */
    size_t nids;
    const char *const *names;   /* the caller's, by client id */
    int n_names;
    ex_check *ck;
    size_t nck;
    ex_break brk[EX_MAX_BREAKS];
    int nbrk;
} ex_run;

/* ---- small helpers ----------------------------------------------------------------- */

static void ex_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that says so: truncation is expected and fine everywhere here. */
static void ex_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Display columns of UTF-8 text: every character used here is one column wide. */
static size_t ex_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Copy src into dst (cap bytes) with control characters as spaces, cut on a character
 * boundary. NULL copies as "". */
static void ex_copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;

    for (; src != NULL && src[n] != '\0' && n + 1 < cap; n++)
        dst[n] = (unsigned char)src[n] < 0x20 || src[n] == 0x7F ? ' ' : src[n];
    while (n > 0 && src[n] != '\0' && ((unsigned char)src[n] & 0xC0) == 0x80)
        n--;
    dst[n] = '\0';
}

/* src cut to at most width display columns into dst, with "…" where it was cut. */
static void ex_fit(char *dst, size_t cap, const char *src, size_t width)
{
    size_t w = 0, i = 0;

    if (ex_width(src) <= width) {
        ex_copy(dst, cap, src);
        return;
    }
    for (; src[i] != '\0'; i++) {
        if (((unsigned char)src[i] & 0xC0) != 0x80) {
            if (w + 1 >= width)
                break;
            w++;
        }
    }
    if (i + sizeof("…") > cap)
        i = cap - sizeof("…");
    while (i > 0 && ((unsigned char)src[i] & 0xC0) == 0x80)
        i--;
    memcpy(dst, src, i);
    memcpy(dst + i, "…", sizeof("…"));
}

static void ex_spaces(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

static void ex_repeat(FILE *out, const char *s, size_t n)
{
    while (n-- > 0)
        fputs(s, out);
}

/* Nanoseconds as milliseconds with one decimal: "150.2". */
static void ex_ms(int64_t ns, char *buf, size_t len)
{
    ovs_report_fixed(ns, OVS_NS_PER_MS, 1, buf, len);
}

/* A duration the way a person says it: "0.7 ms", "311 ms", "1.25 s". */
static void ex_dur(int64_t ns, char *buf, size_t len)
{
    char num[32];

    if (ns < 100 * OVS_NS_PER_MS) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 1, num, sizeof(num));
        ex_fmt(buf, len, "%s ms", num);
    } else if (ns < 10 * OVS_NS_PER_S) {
        ovs_report_fixed(ns, OVS_NS_PER_MS, 0, num, sizeof(num));
        ex_fmt(buf, len, "%s ms", num);
    } else {
        ovs_report_fixed(ns, OVS_NS_PER_S, 2, num, sizeof(num));
        ex_fmt(buf, len, "%s s", num);
    }
}

/* The integer right after tag in s ("attempts=2" with tag "attempts="). */
static int ex_num_after(const char *s, const char *tag, long long *v)
{
    const char *p = strstr(s, tag);
    char *end;

    if (p == NULL)
        return 0;
    p += strlen(tag);
    *v = strtoll(p, &end, 10);
    return end != p;
}

static void ex_name(const ex_run *r, int id, char *buf, size_t len)
{
    if (id < 0)
        ex_fmt(buf, len, "harness");
    else if (r->names != NULL && id < r->n_names && r->names[id] != NULL)
        ex_copy(buf, len, r->names[id]);
    else
        ex_fmt(buf, len, "client %d", id);
}

/* Attempts an acquire made: "attempts=N" when it succeeded, "after N attempts" in the
 * strategies' busy messages, else the Redlock rounds seen, else 0 (not known). */
static long long ex_attempts(const ex_event *e)
{
    long long v;

    if (ex_num_after(e->detail, "attempts=", &v) || ex_num_after(e->detail, "after ", &v))
        return v;
    return e->rounds;
}

/* The acquire kept its client waiting: shown as two rows. */
static int ex_slow(const ex_event *e)
{
    return e->op == EX_ACQUIRE && (ex_attempts(e) > 1 || e->end - e->start >= EX_WAIT_SHOWN);
}

/* When the table shows the step done: the second row of a wait, the answer of a request,
 * else the step's start. */
static int64_t ex_done_time(const ex_event *e)
{
    return ex_slow(e) || (e->op == EX_REQUEST && e->inner) ? e->end : e->start;
}

/* ---- loading ------------------------------------------------------------------------ */

static char *ex_dup(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return strdup(s != NULL ? s : "");
}

static void ex_run_free(ex_run *r)
{
    char **strs[] = { &r->scenario, &r->strategy, &r->params, &r->workload, &r->status,
                      &r->error, &r->verdict, &r->expect, &r->figure, &r->description };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    for (size_t i = 0; i < r->nck; i++) {
        free(r->ck[i].invariant);
        free(r->ck[i].detail);
    }
    free(r->ck);
    free(r->ev);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}

static int ex_sqlfail(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    ovs_seterr(err, errlen, "reading results: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

static int ex_load_run(sqlite3 *db, ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT scenario, strategy, params, workload, status, error,"
                           " verdict, expect, figure, description, seed FROM runs"
                           " WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return ex_sqlfail(db, NULL, err, errlen);
    sqlite3_bind_int64(st, 1, r->id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        if (rc != SQLITE_DONE)
            return ex_sqlfail(db, st, err, errlen);
        ovs_seterr(err, errlen, "no run %lld in the results database", (long long)r->id);
        sqlite3_finalize(st);
        return -1;
    }
    r->scenario = ex_dup(st, 0);
    r->strategy = ex_dup(st, 1);
    r->params = ex_dup(st, 2);
    r->workload = ex_dup(st, 3);
    r->status = ex_dup(st, 4);
    r->error = ex_dup(st, 5);
    r->verdict = ex_dup(st, 6);
    r->expect = ex_dup(st, 7);
    r->figure = ex_dup(st, 8);
    r->description = ex_dup(st, 9);
    r->seed = (uint64_t)sqlite3_column_int64(st, 10);
    sqlite3_finalize(st);
    if (!r->scenario || !r->strategy || !r->params || !r->workload || !r->status ||
        !r->error || !r->verdict || !r->expect || !r->figure || !r->description) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    r->booking = strcmp(r->workload, "inventory") != 0;
    return 0;
}

static int ex_load_events(sqlite3 *db, ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    /* Enclosing events first on equal starts, so a request comes before the steps
     * inside it and an acquire before its node steps. */
    if (sqlite3_prepare_v2(db,
                           "SELECT client, op, key, start_ns, end_ns, outcome, detail"
                           " FROM events WHERE run = ?1"
                           " ORDER BY start_ns, end_ns DESC, rowid", -1, &st, NULL) != SQLITE_OK)
        return ex_sqlfail(db, NULL, err, errlen);
    sqlite3_bind_int64(st, 1, r->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ex_event *e;
        const char *op = (const char *)sqlite3_column_text(st, 1);
        const char *outcome = (const char *)sqlite3_column_text(st, 5);

        if (r->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            ex_event *nv = realloc(r->ev, ncap * sizeof(*nv));
            if (nv == NULL) {
                sqlite3_finalize(st);
                ovs_seterr(err, errlen, "out of memory");
                return -1;
            }
            r->ev = nv;
            cap = ncap;
        }
        e = &r->ev[r->n++];
        memset(e, 0, sizeof(*e));
        e->client = sqlite3_column_int(st, 0);
        ex_copy(e->opname, sizeof(e->opname), op);
        e->op = EX_OTHER;
        for (int i = 0; op != NULL && i < EX_OTHER; i++)
            if (strcmp(op, ex_op_names[i]) == 0)
                e->op = i;
        ex_copy(e->key, sizeof(e->key), (const char *)sqlite3_column_text(st, 2));
        e->start = sqlite3_column_int64(st, 3);
        e->end = sqlite3_column_int64(st, 4);
        e->outcome = outcome == NULL ? EX_UNKNOWN
                     : strcmp(outcome, "ok") == 0 ? EX_OK
                     : strcmp(outcome, "fail") == 0 ? EX_FAIL : EX_UNKNOWN;
        ex_copy(e->detail, sizeof(e->detail), (const char *)sqlite3_column_text(st, 6));
    }
    if (rc != SQLITE_DONE)
        return ex_sqlfail(db, st, err, errlen);
    sqlite3_finalize(st);
    return 0;
}

static int ex_load_checks(sqlite3 *db, ex_run *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT invariant, observed, expected, verdict, detail FROM checks"
                           " WHERE run = ?1 ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
        return ex_sqlfail(db, NULL, err, errlen);
    sqlite3_bind_int64(st, 1, r->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ex_check *c;
        const char *verdict = (const char *)sqlite3_column_text(st, 3);

        if (r->nck == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ex_check *nv = realloc(r->ck, ncap * sizeof(*nv));
            if (nv == NULL)
                goto oom;
            r->ck = nv;
            cap = ncap;
        }
        c = &r->ck[r->nck];
        c->invariant = ex_dup(st, 0);
        c->detail = ex_dup(st, 4);
        c->observed = sqlite3_column_int64(st, 1);
        c->expected = sqlite3_column_int64(st, 2);
        c->pass = verdict != NULL && strcmp(verdict, "pass") == 0;
        r->nck++;
        if (c->invariant == NULL || c->detail == NULL)
            goto oom;
    }
    if (rc != SQLITE_DONE)
        return ex_sqlfail(db, st, err, errlen);
    sqlite3_finalize(st);
    return 0;
oom:
    sqlite3_finalize(st);
    ovs_seterr(err, errlen, "out of memory");
    return -1;
}

/* ---- shaping the events --------------------------------------------------------------- */

/* Fold each Redlock node step into the nearest earlier acquire or release of the same
 * client and key that it falls inside. An acquire's lock steps come in rounds of
 * node 0..N-1; its release steps there are the clean-up of a failed round, not news. */
static void ex_fold_nodes(ex_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ex_event *nd = &r->ev[i], *p = NULL;
        int node, at = 0;
        const char *what;

        if (nd->op != EX_NODE || sscanf(nd->detail, "node %d %n", &node, &at) != 1 || at == 0)
            continue;
        what = nd->detail + at;
        for (size_t j = i; j-- > 0;) {
            ex_event *c = &r->ev[j];
            if (c->client == nd->client && (c->op == EX_ACQUIRE || c->op == EX_RELEASE) &&
                strcmp(c->key, nd->key) == 0) {
                if (nd->start >= c->start && nd->start <= c->end)
                    p = c;
                break;
            }
        }
        if (p == NULL)
            continue;
        nd->folded = 1;
        if (strncmp(what, "release", 7) == 0 || strcmp(what, "not ours") == 0) {
            if (p->op == EX_RELEASE) {
                p->nodes++;
                p->nodes_ok += nd->outcome == EX_OK;
            }
            continue;
        }
        if (p->op != EX_ACQUIRE)
            continue;
        if (p->rounds == 0 || node <= p->last_node) {
            p->rounds++;
            p->nodes_ok = p->nodes = 0;
        }
        p->last_node = node;
        p->nodes++;
        p->nodes_ok += nd->outcome == EX_OK;
        if (p->rounds == 1) {
            p->first_locked = p->nodes_ok;
            p->first_asked = p->nodes;
            p->first_end = nd->end;
        }
    }
}

/* A request the client recorded steps inside is told by those steps and its answer; one
 * with nothing inside (a strategy that does it all in one call) is one step itself. */
static void ex_mark_inner(ex_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ex_event *q = &r->ev[i];
        if (q->op != EX_REQUEST)
            continue;
        for (size_t j = i + 1; j < r->n && r->ev[j].start <= q->end; j++) {
            const ex_event *e = &r->ev[j];
            if (e->client == q->client && e->op != EX_REQUEST && e->op != EX_WRITEBACK &&
                e->op != EX_FAULT) {
                q->inner = 1;
                break;
            }
        }
    }
}

static int ex_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Every client with an event, and every named one even if it recorded nothing. */
static int ex_collect_clients(ex_run *r)
{
    size_t n = 0, cap = r->n + (size_t)(r->n_names > 0 ? r->n_names : 0) + 1;

    r->ids = malloc(cap * sizeof(*r->ids));
    if (r->ids == NULL)
        return -1;
    for (int i = 0; i < r->n_names; i++)
        r->ids[n++] = i;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].client >= 0)
            r->ids[n++] = r->ev[i].client;
    qsort(r->ids, n, sizeof(*r->ids), ex_cmp_int);
    r->nids = 0;
    for (size_t i = 0; i < n; i++)
        if (r->nids == 0 || r->ids[r->nids - 1] != r->ids[i])
            r->ids[r->nids++] = r->ids[i];
    return 0;
}

static int ex_column_of(const ex_run *r, int client)
{
    const int *p = bsearch(&client, r->ids, r->nids, sizeof(*r->ids), ex_cmp_int);
    return p == NULL ? -1 : (int)(p - r->ids);
}

/* The think time after check i: the gap to the same client's next step when that step is
 * its act, else 0. */
static int64_t ex_think_after(const ex_run *r, size_t i)
{
    const ex_event *c = &r->ev[i];

    if (c->op != EX_CHECK || c->outcome != EX_OK)
        return 0;
    for (size_t j = i + 1; j < r->n; j++) {
        const ex_event *e = &r->ev[j];
        if (e->client != c->client || e->op == EX_NODE || e->op == EX_CRITICAL)
            continue;
        if (e->op == EX_ACT && e->start - c->end >= EX_THINK_SHOWN)
            return e->start - c->end;
        return 0;
    }
    return 0;
}

/* ---- where an invariant broke ----------------------------------------------------------- */

/* A write that reached SQL: an act, or the write-back queue applying a sale. */
typedef struct ex_write {
    int64_t end, start;
    size_t i;
} ex_write;

static int ex_cmp_write(const void *a, const void *b)
{
    const ex_write *x = a, *y = b;
    if (x->end != y->end)
        return (x->end > y->end) - (x->end < y->end);
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->i > y->i) - (x->i < y->i);
}

/* Successful writes in commit (end) order. Caller frees. */
static ex_write *ex_writes(const ex_run *r, size_t *nw)
{
    ex_write *w = malloc((r->n ? r->n : 1) * sizeof(*w));

    *nw = 0;
    if (w == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const ex_event *e = &r->ev[i];
        if ((e->op == EX_ACT || e->op == EX_WRITEBACK) && e->outcome == EX_OK)
            w[(*nw)++] = (ex_write){ e->end, e->start, i };
    }
    qsort(w, *nw, sizeof(*w), ex_cmp_write);
    return w;
}

static ex_break *ex_add_break(ex_run *r, const char *invariant, size_t ev, const char *shout,
                              int with_shop)
{
    ex_break *b;

    if (r->nbrk == EX_MAX_BREAKS)
        return NULL;
    b = &r->brk[r->nbrk++];
    b->invariant = invariant;
    b->ev = ev;
    b->t = ex_done_time(&r->ev[ev]);
    b->shout = shout;
    b->with_shop = with_shop;
    b->why[0] = '\0';
    return b;
}

/* Double booking: the second successful write under one key, in commit order. The
 * events do not carry the room and nights (the checker reads those from SQL), only the
 * key the strategy locked: the hotel and check-in day, or the room for the write-back
 * queue. Two confirmed writes under one key are taken to be the same room and nights,
 * which is exact for the shipped scenarios, where every guest asks for the same stay.
 * When no key has two, the second write overall stands in. */
static int ex_break_double(ex_run *r)
{
    size_t nw, hit = 0, first = 0;
    int found = 0;
    ex_write *w = ex_writes(r, &nw);
    char name[64], t[32];
    ex_break *b;

    if (w == NULL)
        return -1;
    for (size_t a = 1; a < nw && !found; a++)
        for (size_t c = 0; c < a && !found; c++)
            if (strcmp(r->ev[w[a].i].key, r->ev[w[c].i].key) == 0) {
                hit = w[a].i;
                first = w[c].i;
                found = 1;
            }
    if (!found && nw >= 2) {
        hit = w[1].i;
        first = w[0].i;
        found = 1;
    }
    free(w);
    if (!found || (b = ex_add_break(r, "double_booked", hit, "double booking!", 1)) == NULL)
        return 0;
    ex_name(r, r->ev[first].client, name, sizeof(name));
    ex_ms(ex_done_time(&r->ev[first]), t, sizeof(t));
    if (strcmp(r->ev[hit].key, r->ev[first].key) == 0)
        ex_fmt(b->why, sizeof(b->why),
               "A second booking under %s while %s's (t=%s ms) stands: double booking.",
               r->ev[hit].key, name, t);
    else
        ex_fmt(b->why, sizeof(b->why),
               "The second confirmed booking, after %s's (t=%s ms): double booking.", name, t);
    return 0;
}

typedef struct ex_stock {
    const char *key;
    long long stock;   /* initial units, -1 while not known */
    long long sold;
} ex_stock;

static ex_stock *ex_stock_of(ex_stock *s, size_t *n, size_t cap, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(s[i].key, key) == 0)
            return &s[i];
    if (*n == cap)
        return NULL;
    s[*n] = (ex_stock){ key, -1, 0 };
    return &s[(*n)++];
}

/* Oversold: per SKU, the first successful write beyond its initial stock, counting
 * writes in commit order. The initial stock of a SKU is the most any check of it saw:
 * the check of the first sale to commit ran before any sale had committed, so it saw
 * the whole stock, and no check can see more. That holds whatever the strategy and the
 * interleaving. Strategies that never check in SQL (a Lua decrement in Redis) leave no
 * such trace; then the units come from the oversold check's "N orders for M units"
 * (every SKU starts with the same stock, so M is split over the SKUs buyers asked for). */
static int ex_break_oversold(ex_run *r, const ex_check *ck)
{
    enum { CAP = 256 };
    ex_stock *s = calloc(CAP, sizeof(*s));
    size_t ns = 0, nw, nreq = 0;
    long long units = -1, v;
    const char *p;
    ex_write *w;

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        const ex_event *e = &r->ev[i];
        ex_stock *k;
        if (e->op == EX_REQUEST && (k = ex_stock_of(s, &ns, CAP, e->key)) != NULL)
            continue;
        if (e->op == EX_CHECK && ex_num_after(e->detail, "stock=", &v) &&
            (k = ex_stock_of(s, &ns, CAP, e->key)) != NULL && v > k->stock)
            k->stock = v;
    }
    nreq = ns;
    if ((p = strstr(ck->detail, " orders for ")) != NULL && ex_num_after(p, " for ", &v))
        units = v;
    for (size_t i = 0; i < ns; i++)
        if (s[i].stock < 0 && units >= 0 && nreq > 0 && units % (long long)nreq == 0)
            s[i].stock = units / (long long)nreq;
    if ((w = ex_writes(r, &nw)) == NULL) {
        free(s);
        return -1;
    }
    for (size_t a = 0; a < nw; a++) {
        const ex_event *e = &r->ev[w[a].i];
        ex_stock *k = ex_stock_of(s, &ns, CAP, e->key);
        ex_break *b;
        if (k == NULL)
            continue;
        k->sold++;
        if (k->stock < 0 || k->sold <= k->stock)
            continue;
        if ((b = ex_add_break(r, "oversold", w[a].i, "oversold!", 1)) != NULL)
            ex_fmt(b->why, sizeof(b->why), "Sale %lld of %s, which had %lld unit%s: oversold.",
                   k->sold, e->key, k->stock, k->stock == 1 ? "" : "s");
        break;
    }
    free(w);
    free(s);
    return 0;
}

typedef struct ex_holder {
    const char *key;
    size_t ev;  /* the critical section that stays open longest so far */
} ex_holder;

/* Two holders: the first critical section (by start) that began while another client's
 * section of the same key was still open, shown at the acquire that opened it. Sections
 * are half-open, as in the checker: one ending the instant another begins is no overlap. */
static int ex_break_mutex(ex_run *r)
{
    ex_holder *h = malloc((r->n ? r->n : 1) * sizeof(*h));
    size_t nh = 0, hit = 0, holder = 0;
    int found = 0;
    char name[64], t[32];
    ex_break *b;

    if (h == NULL)
        return -1;
    for (size_t i = 0; i < r->n && !found; i++) {
        const ex_event *c = &r->ev[i];
        size_t k;
        if (c->op != EX_CRITICAL)
            continue;
        for (k = 0; k < nh && strcmp(h[k].key, c->key) != 0; k++)
            ;
        if (k == nh) {
            h[nh++] = (ex_holder){ c->key, i };
            continue;
        }
        const ex_event *o = &r->ev[h[k].ev];
        if (o->end > c->start && o->client != c->client) {
            hit = i;
            holder = h[k].ev;
            found = 1;
        } else if (c->end > o->end) {
            h[k].ev = i;
        }
    }
    free(h);
    if (!found)
        return 0;
    /* The acquire that granted the section: the runner opens the section the instant
     * its acquire returns. */
    size_t step = hit;
    for (size_t j = hit; j-- > 0;) {
        const ex_event *a = &r->ev[j];
        if (a->client == r->ev[hit].client && a->op == EX_ACQUIRE &&
            strcmp(a->key, r->ev[hit].key) == 0 && a->end <= r->ev[hit].start) {
            step = j;
            break;
        }
    }
    if ((b = ex_add_break(r, "mutex_overlaps", step, "two holders!", 0)) == NULL)
        return 0;
    if (step == hit)
        b->t = r->ev[hit].start;
    ex_name(r, r->ev[holder].client, name, sizeof(name));
    ex_ms(r->ev[holder].start, t, sizeof(t));
    ex_fmt(b->why, sizeof(b->why), "%s had held %s since t=%s ms and not let go: two holders.",
           name, r->ev[hit].key, t);
    return 0;
}

/* Place every failed check the events can place, the shop-level ones first. */
static int ex_find_breaks(ex_run *r)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->nck; i++) {
            const ex_check *c = &r->ck[i];
            int rc = 0;
            if (c->pass)
                continue;
            if (pass == 0 && strcmp(c->invariant, "double_booked") == 0)
                rc = ex_break_double(r);
            else if (pass == 0 && strcmp(c->invariant, "oversold") == 0)
                rc = ex_break_oversold(r, c);
            else if (pass == 1 && strcmp(c->invariant, "mutex_overlaps") == 0)
                rc = ex_break_mutex(r);
            if (rc != 0)
                return -1;
        }
    return 0;
}

static const ex_break *ex_break_at(const ex_run *r, size_t ev)
{
    for (int i = 0; i < r->nbrk; i++)
        if (r->brk[i].ev == ev)
            return &r->brk[i];
    return NULL;
}

static int ex_open(sqlite3 *db, int64_t run_id, const char *const *names, int n_names,
                   ex_run *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->id = run_id;
    r->names = names;
    r->n_names = names != NULL && n_names > 0 ? n_names : 0;
    if (ex_load_run(db, r, err, errlen) < 0 || ex_load_events(db, r, err, errlen) < 0 ||
        ex_load_checks(db, r, err, errlen) < 0)
        goto fail;
    ex_fold_nodes(r);
    ex_mark_inner(r);
    if (ex_collect_clients(r) < 0 || ex_find_breaks(r) < 0) {
        ovs_seterr(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    ex_run_free(r);
    return -1;
}

/* ---- the steps in words ------------------------------------------------------------------ */

enum ex_part {
    EX_ONE,    /* the whole step at its start */
    EX_BEGIN,  /* a wait begins */
    EX_END,    /* a wait ends, a request is answered */
    EX_THINK,  /* the gap between a check and its act */
};

/* One row of the table. */
typedef struct ex_row {
    int64_t t;      /* when */
    size_t seq;     /* tie-break: the order rows were made in */
    size_t ev;      /* the event it tells */
    int part;       /* enum ex_part */
    int64_t gap;    /* EX_THINK: how long */
} ex_row;

static const char *ex_write_what(const ex_run *r)
{
    return r->booking ? "INSERT booking" : "UPDATE stock, INSERT order";
}

/* "→ failed: why" for a step that did not answer ok. */
static void ex_bad(const ex_event *e, char *buf, size_t len)
{
    const char *word = e->outcome == EX_UNKNOWN ? "unknown" : "failed";
    if (e->detail[0] != '\0')
        ex_fmt(buf, len, "→ %s: %s", word, e->detail);
    else
        ex_fmt(buf, len, "→ %s", word);
}

/* A busy message from a lock, rather than an error. */
static int ex_busy(const ex_event *e)
{
    return e->outcome == EX_FAIL &&
           (strstr(e->detail, "attempts") || strstr(e->detail, "busy") ||
            strstr(e->detail, "held") || strstr(e->detail, "majority"));
}

static void ex_phrase_acquire(const ex_event *e, int part, const char *key, char *buf,
                              size_t len)
{
    long long tries = ex_attempts(e);
    char waited[32], bad[160];

    ex_dur(e->end - e->start, waited, sizeof(waited));
    ex_bad(e, bad, sizeof(bad));
    if (part == EX_BEGIN) {
        if (e->rounds > 0 && e->first_locked < e->first_asked)
            ex_fmt(buf, len, "acquire%s → busy (%d/%d nodes)", key, e->first_locked,
                   e->first_asked);
        else if (tries > 1)
            ex_fmt(buf, len, "acquire%s → busy, retrying", key);
        else
            ex_fmt(buf, len, "acquire%s → waiting", key);
        return;
    }
    if (part == EX_END) {
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "acquire → ok, waited %s (%lld attempt%s)", waited,
                   tries > 0 ? tries : 1, tries > 1 ? "s" : "");
        else if (ex_busy(e) && tries > 0)
            ex_fmt(buf, len, "acquire → busy (waited %s, %lld attempts)", waited, tries);
        else if (ex_busy(e))
            ex_fmt(buf, len, "acquire → busy (waited %s)", waited);
        else
            ex_fmt(buf, len, "acquire after %s %s", waited, bad);
        return;
    }
    if (e->outcome == EX_OK && e->rounds > 0)
        ex_fmt(buf, len, "acquire%s → ok (%d/%d nodes)", key, e->nodes_ok, e->nodes);
    else if (e->outcome == EX_OK)
        ex_fmt(buf, len, "acquire%s → ok (%lld attempt%s)", key, tries > 0 ? tries : 1,
               tries > 1 ? "s" : "");
    else if (ex_busy(e) && tries > 0)
        ex_fmt(buf, len, "acquire%s → busy (%lld attempt%s)", key, tries, tries > 1 ? "s" : "");
    else
        ex_fmt(buf, len, "acquire%s %s", key, bad);
}

static void ex_phrase_check(const ex_run *r, const ex_event *e, char *buf, size_t len)
{
    long long v;
    char bad[160];

    if (r->booking && ex_num_after(e->detail, "overlapping=", &v)) {
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "check: room free (%lld overlapping)", v);
        else if (e->outcome == EX_FAIL)
            ex_fmt(buf, len, "check: %lld overlapping → refused", v);
        else
            ex_fmt(buf, len, "check: %lld overlapping → unknown", v);
        return;
    }
    if (!r->booking && ex_num_after(e->detail, "stock=", &v)) {
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "check: %lld in stock", v);
        else if (e->outcome == EX_FAIL)
            ex_fmt(buf, len, "check: stock %lld → sold out", v);
        else
            ex_fmt(buf, len, "check: stock %lld → unknown", v);
        return;
    }
    ex_bad(e, bad, sizeof(bad));
    if (e->outcome == EX_OK)
        ex_fmt(buf, len, "check → ok");
    else
        ex_fmt(buf, len, "check %s", bad);
}

/* The row's text. with_key 0 leaves out the resource name, for narrow columns. */
static void ex_phrase(const ex_run *r, const ex_row *row, int with_key, char *buf, size_t len)
{
    const ex_event *e = &r->ev[row->ev];
    char key[80] = "", bad[160], d[32];

    if (with_key && e->key[0] != '\0')
        ex_fmt(key, sizeof(key), " %s", e->key);
    ex_bad(e, bad, sizeof(bad));
    ex_dur(e->end - e->start, d, sizeof(d));
    if (row->part == EX_THINK) {
        ex_dur(row->gap, d, sizeof(d));
        ex_fmt(buf, len, "thinks %s", d);
        return;
    }
    switch (e->op) {
    case EX_ACQUIRE:
        ex_phrase_acquire(e, row->part, key, buf, len);
        break;
    case EX_CHECK:
        ex_phrase_check(r, e, buf, len);
        break;
    case EX_ACT:
        if (e->outcome == EX_OK && e->detail[0] != '\0')
            ex_fmt(buf, len, "act: %s → ok (%s)", ex_write_what(r), e->detail);
        else if (e->outcome == EX_OK)
            ex_fmt(buf, len, "act: %s → ok", ex_write_what(r));
        else
            ex_fmt(buf, len, "act: %s %s", ex_write_what(r), bad);
        break;
    case EX_RELEASE:
        if (e->outcome == EX_OK && e->nodes > 0)
            ex_fmt(buf, len, "release → ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else if (e->outcome == EX_OK)
            ex_fmt(buf, len, "release → ok");
        else
            ex_fmt(buf, len, "release %s", bad);
        break;
    case EX_REQUEST:
        if (row->part == EX_END)
            ex_fmt(buf, len, "answer: %s", e->detail[0] ? e->detail
                                            : e->outcome == EX_OK ? "ok" : "failed");
        else if (e->outcome == EX_UNKNOWN)
            ex_fmt(buf, len, "%s%s %s", r->booking ? "book" : "buy", key, bad);
        else
            ex_fmt(buf, len, "%s%s → %s (%s)", r->booking ? "book" : "buy", key,
                   e->detail[0] ? e->detail : e->outcome == EX_OK ? "ok" : "failed", d);
        break;
    case EX_WRITEBACK:
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "write-back: %s → ok",
                   r->booking ? "INSERT booking" : "INSERT order");
        else
            ex_fmt(buf, len, "write-back %s", bad);
        break;
    case EX_EXECUTE:
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "execute%s → ok%s%s", key, e->detail[0] ? ": " : "", e->detail);
        else
            ex_fmt(buf, len, "execute%s %s", key, bad);
        break;
    case EX_FAULT:
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "fault%s%s: %s", key[0] ? " on" : "", key, e->detail);
        else
            ex_fmt(buf, len, "fault%s%s %s", key[0] ? " on" : "", key, bad);
        break;
    case EX_NODE:
        ex_fmt(buf, len, "%s", e->detail[0] ? e->detail : "node step");
        break;
    default:
        if (e->outcome == EX_OK)
            ex_fmt(buf, len, "%s%s → ok%s%s", e->opname, key, e->detail[0] ? ": " : "",
                   e->detail);
        else
            ex_fmt(buf, len, "%s%s %s", e->opname, key, bad);
        break;
    }
}

/* The row's text in at most width columns: with the key if it fits, else without, else
 * cut. The outcome matters most, so a cut falls before the "→" when what follows it is
 * short enough to keep whole: "act: UPDATE stock, IN… → ok". */
static void ex_phrase_fit(const ex_run *r, const ex_row *row, size_t width, char *buf,
                          size_t len)
{
    char full[320], head[320];
    const char *arrow;
    size_t tw;

    ex_phrase(r, row, 1, full, sizeof(full));
    if (ex_width(full) > width)
        ex_phrase(r, row, 0, full, sizeof(full));
    if (ex_width(full) > width && (arrow = strstr(full, " → ")) != NULL &&
        (tw = ex_width(arrow)) + 8 <= width) {
        memcpy(head, full, (size_t)(arrow - full));
        head[arrow - full] = '\0';
        ex_fit(buf, len, head, width - tw);
        ex_fmt(buf + strlen(buf), len - strlen(buf), "%s", arrow);
        return;
    }
    ex_fit(buf, len, full, width);
}

static int ex_cmp_row(const void *a, const void *b)
{
    const ex_row *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The table's rows, in time order. Caller frees. */
static ex_row *ex_rows(const ex_run *r, size_t *nrows)
{
    ex_row *rows = malloc((2 * r->n + 1) * sizeof(*rows));
    size_t n = 0;

    *nrows = 0;
    if (rows == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const ex_event *e = &r->ev[i];
        int64_t gap;
        if (e->op == EX_CRITICAL || (e->op == EX_NODE && e->folded))
            continue;
        if (e->op == EX_REQUEST && e->inner) {
            rows[n] = (ex_row){ e->end, n, i, EX_END, 0 };
            n++;
        } else if (ex_slow(e)) {
            rows[n] = (ex_row){ e->start, n, i, EX_BEGIN, 0 };
            n++;
            rows[n] = (ex_row){ e->end, n, i, EX_END, 0 };
            n++;
        } else {
            rows[n] = (ex_row){ e->start, n, i, EX_ONE, 0 };
            n++;
        }
        if ((gap = ex_think_after(r, i)) > 0) {
            rows[n] = (ex_row){ e->end, n, i, EX_THINK, gap };
            n++;
        }
    }
    qsort(rows, n, sizeof(*rows), ex_cmp_row);
    *nrows = n;
    return rows;
}

/* The row shows its step done, and that step broke an invariant. */
static int ex_row_breaks(const ex_run *r, const ex_row *row)
{
    return (row->part == EX_ONE || row->part == EX_END) && ex_break_at(r, row->ev) != NULL;
}

static const char *ex_tone(const ex_run *r, const ex_row *row)
{
    const ex_event *e = &r->ev[row->ev];

    if (ex_row_breaks(r, row))
        return EX_ALARM;
    if (row->part == EX_THINK)
        return EX_DIM;
    if (row->part == EX_BEGIN)
        return EX_YELLOW;
    if (e->outcome == EX_UNKNOWN)
        return EX_YELLOW;
    if (e->outcome == EX_FAIL)
        return EX_RED;
    if (e->op == EX_ACT || e->op == EX_WRITEBACK || e->op == EX_REQUEST)
        return EX_GREEN;
    return NULL;
}

/* ---- the table ------------------------------------------------------------------------- */

/* Write text from display column col, folding before a word that would pass EX_WIDTH;
 * continuation lines are indented by indent. Breaks at spaces, and after commas so a
 * long parameter list folds too. Spaces are kept as written (padding stays aligned)
 * except where the line folds. */
static void ex_wrap(FILE *out, const char *text, size_t col, size_t indent)
{
    const char *p = text;
    size_t start = col;

    while (*p != '\0') {
        size_t sp = 0, n = 0, w;
        char tok[512];

        while (p[sp] == ' ')
            sp++;
        if (p[sp] == '\0')
            break;
        while (p[sp + n] != '\0' && p[sp + n] != ' ' && p[sp + n] != ',')
            n++;
        /* "301.8 ms" and "client 11" fold as one word. */
        if ((n > 0 && p[sp + n - 1] >= '0' && p[sp + n - 1] <= '9' &&
             strncmp(p + sp + n, " ms", 3) == 0) ||
            (n == 6 && strncmp(p + sp, "client ", 7) == 0 && p[sp + 7] >= '0' &&
             p[sp + 7] <= '9'))
            for (n++; p[sp + n] != '\0' && p[sp + n] != ' ' && p[sp + n] != ','; n++)
                ;
        if (p[sp + n] == ',')
            n++;
        ex_copy(tok, n + 1 < sizeof(tok) ? n + 1 : sizeof(tok), p + sp);
        w = ex_width(tok);
        if (col > start && col + sp + w > EX_WIDTH) {
            fputc('\n', out);
            ex_spaces(out, indent);
            col = start = indent;
        } else {
            ex_spaces(out, sp);
            col += sp;
        }
        fputs(tok, out);
        col += w;
        p += sp + n;
    }
    fputc('\n', out);
}

static void ex_header(const ex_run *r, FILE *out)
{
    char seed[32];

    fprintf(out, "Run %lld: %s under %s\n", (long long)r->id, r->scenario, r->strategy);
    fputs("  scenario  ", out);
    fputs(r->scenario, out);
    fputc('\n', out);
    if (r->description[0] != '\0') {
        ex_spaces(out, 12);
        ex_wrap(out, r->description, 12, 12);
    }
    fprintf(out, "  strategy  %s\n", r->strategy);
    fputs("  params    ", out);
    ex_wrap(out, r->params[0] ? r->params : "(defaults)", 12, 12);
    ex_fmt(seed, sizeof(seed), "%" PRIu64, r->seed);
    fprintf(out, "  seed      %s\n", seed);
    if (strcmp(r->status, "ok") != 0) {
        fputs("  status    ", out);
        char st[400];
        ex_fmt(st, sizeof(st), "%s%s%s: the run did not finish, so the checks may be missing",
               r->status, r->error[0] ? ": " : "", r->error);
        ex_wrap(out, st, 12, 12);
    }
    fputc('\n', out);
}

/* Print text coloured (when color) and return its display width. */
static size_t ex_put(FILE *out, const char *text, const char *tone, int color)
{
    if (color && tone != NULL)
        fprintf(out, "%s%s%s", tone, text, EX_RESET);
    else
        fputs(text, out);
    return ex_width(text);
}

/* The time column: "  150.2 ms", with "▶" in front of a step that broke an invariant. */
static void ex_put_time(FILE *out, int64_t t, int mark, int color)
{
    char num[32], cell[48];

    ex_ms(t, num, sizeof(num));
    ex_fmt(cell, sizeof(cell), "%7s ms", num);
    if (mark) {
        /* The marker takes the first column when the number leaves it free. */
        ex_put(out, "▶", EX_ALARM, color);
        fputs(cell[0] == ' ' ? cell + 1 : cell, out);
    } else {
        fputs(cell, out);
    }
}

/* A client's state at t, for the lane markers: 2 inside a critical section, 1 inside a
 * request, 0 neither. */
static int ex_lane(const ex_run *r, int client, int64_t t)
{
    int state = 0;

    for (size_t i = 0; i < r->n && r->ev[i].start <= t; i++) {
        const ex_event *e = &r->ev[i];
        if (e->client != client || t >= e->end)
            continue;
        if (e->op == EX_CRITICAL)
            return 2;
        if (e->op == EX_REQUEST)
            state = 1;
    }
    return state;
}

/* One column per client, lane markers in the columns of the others. Returns whether a
 * marker was drawn. */
static int ex_columns(const ex_run *r, const ex_row *rows, size_t nrows, int color,
                      FILE *out)
{
    size_t n = r->nids, w = (EX_WIDTH - EX_TIME_W) / n - EX_GAP;
    int lanes = 0;
    char name[64], cell[256];

    if (w > EX_CELL_MAX)
        w = EX_CELL_MAX;
    ex_spaces(out, EX_TIME_W - 4);
    fputs("time", out);
    for (size_t c = 0; c < n; c++) {
        ex_name(r, r->ids[c], name, sizeof(name));
        ex_fit(cell, sizeof(cell), name, w);
        ex_spaces(out, EX_GAP);
        fputs(cell, out);
        if (c + 1 < n)
            ex_spaces(out, w - ex_width(cell));
    }
    fputc('\n', out);
    ex_repeat(out, "─", EX_TIME_W);
    for (size_t c = 0; c < n; c++) {
        ex_spaces(out, EX_GAP);
        ex_repeat(out, "─", w);
    }
    fputc('\n', out);

    for (size_t k = 0; k < nrows; k++) {
        const ex_row *row = &rows[k];
        const ex_event *e = &r->ev[row->ev];
        int col = ex_column_of(r, e->client);
        size_t pending = 0;

        ex_put_time(out, row->t, ex_row_breaks(r, row), color);
        if (col < 0) {
            /* A harness step (a fault): across the whole width. */
            ex_phrase_fit(r, row, EX_WIDTH - EX_TIME_W - EX_GAP - 3, cell, sizeof(cell));
            ex_spaces(out, EX_GAP);
            ex_put(out, "!! ", EX_YELLOW, color);
            ex_put(out, cell, EX_YELLOW, color);
            fputc('\n', out);
            continue;
        }
        for (size_t c = 0; c < n; c++) {
            const char *tone = EX_DIM;
            if ((int)c == col) {
                ex_phrase_fit(r, row, w, cell, sizeof(cell));
                tone = ex_tone(r, row);
            } else {
                int lane = ex_lane(r, r->ids[c], row->t);
                snprintf(cell, sizeof(cell), "%s", lane == 2 ? "┃" : lane == 1 ? "│" : "");
                lanes |= lane != 0;
            }
            if (cell[0] == '\0') {
                pending += EX_GAP + w;
                continue;
            }
            ex_spaces(out, pending + EX_GAP);
            pending = w - ex_put(out, cell, tone, color);
        }
        fputc('\n', out);
    }
    return lanes;
}

/* One line per step with the client named: for runs with many clients. */
static void ex_lines(const ex_run *r, const ex_row *rows, size_t nrows, int color, FILE *out)
{
    size_t namew = 0, w;
    char name[64], cell[256];

    for (size_t c = 0; c < r->nids; c++) {
        ex_name(r, r->ids[c], name, sizeof(name));
        if (ex_width(name) > namew)
            namew = ex_width(name);
    }
    if (namew < 7)
        namew = 7; /* "harness" */
    if (namew > EX_NAME_MAX)
        namew = EX_NAME_MAX;
    w = EX_WIDTH - EX_TIME_W - 2 * EX_GAP - namew;
    ex_spaces(out, EX_TIME_W - 4);
    fputs("time  client", out);
    ex_spaces(out, namew - 6 + EX_GAP);
    fputs("step\n", out);
    ex_repeat(out, "─", EX_TIME_W);
    ex_spaces(out, EX_GAP);
    ex_repeat(out, "─", namew);
    ex_spaces(out, EX_GAP);
    ex_repeat(out, "─", w);
    fputc('\n', out);
    for (size_t k = 0; k < nrows; k++) {
        const ex_row *row = &rows[k];
        char fitted[64];

        ex_put_time(out, row->t, ex_row_breaks(r, row), color);
        ex_name(r, r->ev[row->ev].client, name, sizeof(name));
        ex_fit(fitted, sizeof(fitted), name, namew);
        ex_spaces(out, EX_GAP);
        fputs(fitted, out);
        ex_spaces(out, namew - ex_width(fitted) + EX_GAP);
        ex_phrase_fit(r, row, w, cell, sizeof(cell));
        ex_put(out, cell, ex_tone(r, row), color);
        fputc('\n', out);
    }
}

/* The refusal of request q in words, for the "held" line: who, when, at which step. */
static void ex_refusal(const ex_run *r, size_t q, char *buf, size_t len)
{
    const ex_event *req = &r->ev[q];
    size_t why = q;
    int64_t waited = 0;
    char name[64], t[32], step[256], d[32];
    ex_row row;

    for (size_t j = q + 1; j < r->n && r->ev[j].start <= req->end; j++) {
        const ex_event *e = &r->ev[j];
        if (e->client != req->client)
            continue;
        if (e->outcome != EX_OK &&
            (e->op == EX_CHECK || e->op == EX_ACT || e->op == EX_ACQUIRE || e->op == EX_EXECUTE))
            why = j;
        if (e->op == EX_ACQUIRE && e->outcome == EX_OK && ex_slow(e))
            waited += e->end - e->start;
    }
    ex_name(r, req->client, name, sizeof(name));
    if (why == q) {
        ex_ms(req->inner ? req->end : req->start, t, sizeof(t));
        ex_fmt(buf, len, "%s was refused at t=%s ms (%s)", name, t,
               req->detail[0] ? req->detail : "failed");
        return;
    }
    row = (ex_row){ ex_done_time(&r->ev[why]), 0, why,
                    ex_slow(&r->ev[why]) ? EX_END : EX_ONE, 0 };
    ex_ms(row.t, t, sizeof(t));
    ex_phrase(r, &row, 0, step, sizeof(step));
    if (waited > 0) {
        ex_dur(waited, d, sizeof(d));
        ex_fmt(buf, len, "%s was refused at t=%s ms (%s) after waiting %s for the lock", name,
               t, step, d);
    } else {
        ex_fmt(buf, len, "%s was refused at t=%s ms (%s)", name, t, step);
    }
}

/* "held: no double booking. bob was refused at t=..." */
static int ex_held(const ex_run *r, FILE *out)
{
    ex_write *q = malloc((r->n ? r->n : 1) * sizeof(*q));
    size_t nq = 0;
    char line[1024], one[400];
    size_t used;

    if (q == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].op == EX_REQUEST && r->ev[i].outcome == EX_FAIL)
            q[nq++] = (ex_write){ r->ev[i].end, r->ev[i].start, i };
    qsort(q, nq, sizeof(*q), ex_cmp_write);
    ex_fmt(line, sizeof(line), "held: %s.", r->booking ? "no double booking" : "nothing oversold");
    used = strlen(line);
    for (size_t k = 0; k < nq && k < EX_REFUSALS_NAMED; k++) {
        ex_refusal(r, q[k].i, one, sizeof(one));
        ex_fmt(line + used, sizeof(line) - used, "%s%s", k ? "; " : " ", one);
        used = strlen(line);
    }
    if (nq > EX_REFUSALS_NAMED)
        ex_fmt(line + used, sizeof(line) - used, "; and %zu more refused.",
               nq - EX_REFUSALS_NAMED);
    else if (nq > 0)
        ex_fmt(line + used, sizeof(line) - used, ".");
    free(q);
    ex_wrap(out, line, 0, 2);
    return 0;
}

/* The checks, where each broken one broke, or that the run held. */
static int ex_verdict(const ex_run *r, int color, FILE *out)
{
    char line[512], name[64], t[32], step[256];
    int primary_pass = 1, have_primary = 0;

    if (r->verdict[0] != '\0') {
        int unsafe = strcmp(r->verdict, "unsafe") == 0;
        ex_put(out, "verdict", NULL, 0);
        fputs("   ", out);
        ex_put(out, unsafe ? "UNSAFE" : r->verdict, unsafe ? EX_ALARM : EX_GREEN, color);
        ex_fmt(line, sizeof(line), "%s%s%s%s%s",
               r->expect[0] ? " (expected " : "", r->expect, r->expect[0] ? ")" : "",
               r->figure[0] ? ": " : "", r->figure);
        ex_wrap(out, line, 10 + ex_width(unsafe ? "UNSAFE" : r->verdict), 10);
    }
    if (r->nck == 0) {
        fputs("no checks recorded for this run\n", out);
        return 0;
    }
    for (size_t i = 0; i < r->nck; i++) {
        const ex_check *c = &r->ck[i];
        fputs("  ", out);
        ex_put(out, c->pass ? "pass" : "FAIL", c->pass ? EX_GREEN : EX_RED, color);
        ex_fmt(line, sizeof(line), "  %-15s %lld (expected %lld)%s%s", c->invariant,
               c->observed, c->expected, c->detail[0] ? ": " : "", c->detail);
        ex_wrap(out, line, 6, 24);
        if (strcmp(c->invariant, "double_booked") == 0 || strcmp(c->invariant, "oversold") == 0) {
            have_primary = 1;
            primary_pass &= c->pass;
        }
    }
    fputc('\n', out);
    for (int b = 0; b < r->nbrk; b++) {
        const ex_break *k = &r->brk[b];
        const ex_event *e = &r->ev[k->ev];
        ex_row row = { k->t, 0, k->ev, ex_slow(e) ? EX_END : EX_ONE, 0 };

        if (e->op == EX_CRITICAL)
            ex_fmt(step, sizeof(step), "critical section on %s began", e->key);
        else
            ex_phrase(r, &row, 1, step, sizeof(step));
        ex_name(r, e->client, name, sizeof(name));
        ex_ms(k->t, t, sizeof(t));
        fputs(color ? EX_ALARM "broke" EX_RESET : "broke", out);
        ex_fmt(line, sizeof(line), " at t=%s ms: %s's %s. %s", t, name, step, k->why);
        ex_wrap(out, line, 5, 2);
    }
    for (size_t i = 0; i < r->nck; i++) {
        const ex_check *c = &r->ck[i];
        int placed = 0;
        if (c->pass)
            continue;
        for (int b = 0; b < r->nbrk; b++)
            placed |= strcmp(r->brk[b].invariant, c->invariant) == 0;
        if (!placed) {
            ex_fmt(line, sizeof(line), "broke: %s, at no single step the events can show.",
                   c->invariant);
            ex_wrap(out, line, 0, 2);
        }
    }
    if (have_primary && primary_pass)
        return ex_held(r, out);
    return 0;
}

int ovs_explain_table(sqlite3 *results, int64_t run_id, const char *const *client_names,
                      int n_names, int color, FILE *out, char *err, size_t errlen)
{
    ex_run r;
    ex_row *rows;
    size_t nrows;
    int ret = -1;

    if (ex_open(results, run_id, client_names, n_names, &r, err, errlen) < 0)
        return -1;
    if ((rows = ex_rows(&r, &nrows)) == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        goto done;
    }
    ex_header(&r, out);
    if (nrows == 0) {
        fputs("No steps recorded.\n", out);
    } else if (r.nids >= 1 && r.nids <= EX_MAX_COLUMNS) {
        if (ex_columns(&r, rows, nrows, color, out))
            fputs("┃ inside the critical section (holding the lock)   "
                  "│ in a request, not holding it\n", out);
    } else {
        ex_lines(&r, rows, nrows, color, out);
    }
    fputc('\n', out);
    if (ex_verdict(&r, color, out) < 0) {
        ovs_seterr(err, errlen, "out of memory");
        goto done;
    }
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing the explanation failed");
        goto done;
    }
    ret = 0;
done:
    free(rows);
    ex_run_free(&r);
    return ret;
}

/* ---- the Mermaid diagram ---------------------------------------------------------------- */

enum { EX_LOCK = -2, EX_SHOP = -3 };
enum ex_msg_kind {
    EX_CALL,   /* a client (or the queue) asks */
    EX_STEP,   /* an answer on the way: a Redlock round that failed */
    EX_REPLY,  /* the answer that ends the step */
    EX_NOTE,   /* a note over one participant */
};

typedef struct ex_msg {
    int64_t t;
    size_t seq;
    size_t ev;
    int kind;        /* enum ex_msg_kind */
    int from, to;    /* client ids, EX_LOCK or EX_SHOP */
    char text[200];
} ex_msg;

/* Text Mermaid shows as is: ';' and a line break end a statement, '#' starts a comment
 * (or an entity), "%%" a comment anywhere, and '<' '>' could be taken for HTML. */
static void ex_mm_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == ';')
            fputc(',', out);
        else if (*s == '#')
            fputs("＃", out); /* fullwidth: reads the same, parses as text */
        else if (*s == '%' && s[1] == '%')
            fputs("% ", out);
        else if (*s == '<')
            fputs("‹", out);
        else if (*s == '>')
            fputs("›", out);
        else if ((unsigned char)*s < 0x20)
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void ex_mm_who(FILE *out, int p)
{
    if (p == EX_LOCK)
        fputs("Lock", out);
    else if (p == EX_SHOP)
        fputs("Shop", out);
    else
        fprintf(out, "C%d", p);
}

static void ex_msg_add(ex_msg *m, size_t *n, int64_t t, size_t ev, int kind, int from, int to,
                       const char *text)
{
    m[*n] = (ex_msg){ t, *n, ev, kind, from, to, "" };
    ex_copy(m[*n].text, sizeof(m[*n].text), text);
    (*n)++;
}

/* An event as the messages of the diagram (at most 4). */
static void ex_msgs_of(const ex_run *r, size_t i, ex_msg *m, size_t *n)
{
    const ex_event *e = &r->ev[i];
    int c = e->client;
    char text[200], answer[200], d[32];
    ex_row one = { e->start, 0, i, EX_ONE, 0 };
    int64_t gap;

    ex_bad(e, answer, sizeof(answer));
    /* The answers drop ex_bad's arrow: the arrow is drawn. */
    memmove(answer, answer + strlen("→ "), strlen(answer + strlen("→ ")) + 1);
    switch (e->op) {
    case EX_ACQUIRE: {
        long long tries = ex_attempts(e);
        ex_fmt(text, sizeof(text), "acquire %s", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        if (e->rounds > 1) {
            ex_fmt(text, sizeof(text), "busy (%d/%d nodes), retry later", e->first_locked,
                   e->first_asked);
            ex_msg_add(m, n, e->first_end, i, EX_STEP, EX_LOCK, c, text);
        }
        ex_dur(e->end - e->start, d, sizeof(d));
        if (e->outcome == EX_OK && ex_slow(e))
            ex_fmt(text, sizeof(text), "ok after %s (%lld attempt%s)", d, tries > 0 ? tries : 1,
                   tries > 1 ? "s" : "");
        else if (e->outcome == EX_OK && e->rounds > 0)
            ex_fmt(text, sizeof(text), "ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else if (e->outcome == EX_OK)
            ex_fmt(text, sizeof(text), "ok (%lld attempt%s)", tries > 0 ? tries : 1,
                   tries > 1 ? "s" : "");
        else if (ex_busy(e))
            ex_fmt(text, sizeof(text), "busy, gave up after %s", d);
        else
            ex_fmt(text, sizeof(text), "%s", answer);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        break;
    }
    case EX_CHECK:
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_SHOP,
                   r->booking ? "check: is the room free?" : "check: stock left?");
        ex_phrase(r, &one, 0, text, sizeof(text));
        /* "check: room free (0 overlapping)" answers as "room free (0 overlapping)"; a
         * check without figures as ex_bad says it. */
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, c,
                   strncmp(text, "check: ", 7) == 0 ? text + 7
                   : e->outcome == EX_OK ? "ok" : answer);
        if ((gap = ex_think_after(r, i)) > 0) {
            ex_dur(gap, d, sizeof(d));
            ex_fmt(text, sizeof(text), "thinks %s", d);
            ex_msg_add(m, n, e->end, i, EX_NOTE, c, c, text);
        }
        break;
    case EX_ACT:
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_SHOP, ex_write_what(r));
        if (e->outcome == EX_OK)
            ex_fmt(text, sizeof(text), "ok%s%s%s", e->detail[0] ? " (" : "", e->detail,
                   e->detail[0] ? ")" : "");
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, c, e->outcome == EX_OK ? text : answer);
        break;
    case EX_RELEASE:
        ex_fmt(text, sizeof(text), "release %s", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        if (e->outcome == EX_OK && e->nodes > 0)
            ex_fmt(text, sizeof(text), "ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else
            ex_fmt(text, sizeof(text), "%s", e->outcome == EX_OK ? "ok" : answer);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        break;
    case EX_REQUEST:
        if (e->inner) {
            ex_fmt(text, sizeof(text), "answer: %s", e->detail[0] ? e->detail : "done");
            ex_msg_add(m, n, e->end, i, EX_NOTE, c, c, text);
            break;
        }
        ex_fmt(text, sizeof(text), "%s %s", r->booking ? "book" : "buy", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        ex_dur(e->end - e->start, d, sizeof(d));
        ex_fmt(text, sizeof(text), "%s (%s)",
               e->outcome == EX_UNKNOWN ? answer : e->detail[0] ? e->detail : "done", d);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        break;
    case EX_EXECUTE:
        ex_fmt(text, sizeof(text), "execute %s", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, e->outcome == EX_OK ? "ok" : answer);
        break;
    case EX_WRITEBACK: {
        char name[64];
        ex_name(r, c, name, sizeof(name));
        ex_fmt(text, sizeof(text), "write-back: %s for %s",
               r->booking ? "INSERT booking" : "INSERT order", name);
        ex_msg_add(m, n, e->start, i, EX_CALL, EX_LOCK, EX_SHOP, text);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, EX_LOCK, e->outcome == EX_OK ? "ok" : answer);
        break;
    }
    case EX_FAULT:
    case EX_OTHER:
        ex_phrase(r, &one, 1, text, sizeof(text));
        ex_msg_add(m, n, e->start, i, EX_NOTE, c >= 0 ? c : EX_LOCK, c >= 0 ? c : EX_SHOP,
                   text);
        break;
    default: /* critical sections and node steps are drawn through their acquire */
        break;
    }
}

static int ex_cmp_msg(const void *a, const void *b)
{
    const ex_msg *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void ex_mm_note(FILE *out, int a, int b, const char *text)
{
    fputs("    Note over ", out);
    ex_mm_who(out, a);
    if (b != a) {
        fputc(',', out);
        ex_mm_who(out, b);
    }
    fputs(": ", out);
    ex_mm_text(out, text);
    fputc('\n', out);
}

/* The box around a violation starts at the step's request when nothing of another step
 * comes between it and the answer, else at the answer alone: boxes then never hold two
 * steps, so two of them can never interleave. */
static int ex_box_from_call(const ex_msg *m, size_t n, size_t k)
{
    for (size_t j = k + 1; j < n; j++) {
        if (m[j].ev != m[k].ev)
            return 0;
        if (m[j].kind == EX_REPLY)
            return 1;
    }
    return 0;
}

static void ex_mermaid(const ex_run *r, const ex_msg *m, size_t n, FILE *out)
{
    char name[64], num[32], text[400], last[32] = "";
    const ex_break *open = NULL;
    int first = r->nids > 0 ? r->ids[0] : EX_LOCK;

    fputs("sequenceDiagram\n", out);
    for (size_t c = 0; c < r->nids; c++) {
        ex_name(r, r->ids[c], name, sizeof(name));
        fprintf(out, "    participant C%d as ", r->ids[c]);
        ex_mm_text(out, name);
        fputc('\n', out);
    }
    fputs("    participant Lock as Lock (", out);
    ex_mm_text(out, r->strategy);
    fputs(")\n    participant Shop as Shop (SQL)\n", out);
    ex_fmt(text, sizeof(text), "%s under %s, run %lld, seed %" PRIu64, r->scenario, r->strategy,
           (long long)r->id, r->seed);
    ex_mm_note(out, first, EX_SHOP, text);

    for (size_t k = 0; k < n; k++) {
        const ex_msg *g = &m[k];
        const ex_break *b = ex_break_at(r, g->ev);

        /* Times over each request, and over an answer that comes after other steps. */
        if (g->kind == EX_CALL || ((g->kind == EX_REPLY || g->kind == EX_STEP) &&
                                   (k == 0 || m[k - 1].ev != g->ev))) {
            ex_ms(g->t, num, sizeof(num));
            if (strcmp(num, last) != 0) {
                ex_fmt(text, sizeof(text), "t=%s ms", num);
                ex_mm_note(out, g->kind == EX_CALL ? g->from : g->to,
                           g->kind == EX_CALL ? g->from : g->to, text);
                memcpy(last, num, sizeof(last));
            }
        }
        if (b != NULL && open == NULL &&
            ((g->kind == EX_CALL && ex_box_from_call(m, n, k)) || g->kind == EX_REPLY)) {
            fputs("    rect rgb(255, 200, 200)\n", out);
            open = b;
        }
        if (g->kind == EX_NOTE) {
            ex_mm_note(out, g->from, g->to, g->text);
        } else {
            fputs("    ", out);
            ex_mm_who(out, g->from);
            fputs(g->kind == EX_CALL ? "->>" : "-->>", out);
            ex_mm_who(out, g->to);
            fputs(": ", out);
            ex_mm_text(out, g->text);
            fputc('\n', out);
        }
        if (open != NULL && open == b && g->kind == EX_REPLY) {
            int who = r->ev[g->ev].client;
            ex_mm_note(out, who >= 0 ? who : EX_LOCK, open->with_shop ? EX_SHOP : EX_LOCK,
                       open->shout);
            fputs("    end\n", out);
            open = NULL;
        }
    }
    if (r->verdict[0] != '\0') {
        /* The headline up to its first ';': the rest is detail for the table. */
        ex_fmt(text, sizeof(text), "verdict: %s, %.*s", r->verdict,
               (int)strcspn(r->figure, ";"), r->figure);
        ex_mm_note(out, first, EX_SHOP, text);
    }
}

int ovs_explain_mermaid(sqlite3 *results, int64_t run_id, const char *const *client_names,
                        int n_names, FILE *out, char *err, size_t errlen)
{
    ex_run r;
    ex_msg *m;
    size_t n = 0;
    int ret = -1;

    if (ex_open(results, run_id, client_names, n_names, &r, err, errlen) < 0)
        return -1;
    if ((m = malloc((4 * r.n + 1) * sizeof(*m))) == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r.n; i++)
        ex_msgs_of(&r, i, m, &n);
    qsort(m, n, sizeof(*m), ex_cmp_msg);
    ex_mermaid(&r, m, n, out);
    if (fflush(out) != 0 || ferror(out)) {
        ovs_seterr(err, errlen, "writing the diagram failed");
        goto done;
    }
    ret = 0;
done:
    free(m);
    ex_run_free(&r);
    return ret;
}

int64_t ovs_explain_find_run(sqlite3 *results, const char *scenario, const char *strategy)
{
    sqlite3_stmt *st;
    int64_t id = -1;

    if (sqlite3_prepare_v2(results,
                           "SELECT id FROM runs WHERE scenario = ?1 AND strategy = ?2"
                           " ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, strategy, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}
