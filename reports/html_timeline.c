/* html_timeline.c - the swim-lane timeline of a small run in index.html, as SVG.
 *
 * The teaching view: one lane per client, each step of a request drawn where it
 * happened in time (shape for the step, colour for the outcome), and what broke the
 * invariant drawn in red on top:
 *   - a window where two or more clients held the critical section of one key, as a red
 *     band across the lanes of the holders, labelled with the number of holders and times;
 *   - the write that broke the invariant: for inventory, every acknowledged sale beyond the
 *     initial stock (in order of completion); for booking, every confirmed booking of a key
 *     after its first. Only drawn when the run's own check failed, so a red mark always
 *     agrees with the verdict.
 * The same violations are listed in words under the chart, with their times. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/html.h"
#include "reports/html_util.h"
#include "reports/report.h"
#include "reports/results_db.h"
#include "core/answer.h"
#include "core/trace.h"
#include "core/util.h"

/* Colours of the three outcomes (ok, fail, unknown: enum ovs_outcome), darker for marks,
 * lighter for long bars. Red is kept for violations only. */
static const char *const tl_dark[3] = { "#2166ac", "#e08214", "#8e44ad" };
static const char *const tl_light[3] = { "#9ecae1", "#fdc086", "#d2b4e0" };
#define TL_RED "#d00000"

/* More events than this are not drawn: even with few clients, the marks would merge into
 * a smear (and the page would grow by megabytes). */
#define TL_MAX_EVENTS 3000
#define TL_MAX_LANES (OVS_HTML_TIMELINE_CLIENTS + 1) /* clients, and the harness's lane */
#define TL_X0 92.0        /* plot starts: lane labels to the left */
#define TL_PLOT 1000.0    /* plot width */
#define TL_W (TL_X0 + TL_PLOT + 24)
#define TL_LANE 48.0      /* lane height: marks in the top 36 px, their words below */
#define TL_TEXT_EVENTS 80 /* runs this small get the words under checks and writes */
#define TL_LABEL_ROW 17.0 /* one row of violation labels */
#define TL_LABEL_ROWS 4   /* rows of labels before the rest are left to the list */
#define TL_LIST_MAX 20    /* violations listed in words under the chart */

/* The recorded ops (enum ovs_op), and TL_OTHER for a name none of them has. */
enum tl_op { TL_REQUEST = OVS_OP_REQUEST, TL_ACQUIRE = OVS_OP_ACQUIRE, TL_CHECK = OVS_OP_CHECK,
             TL_ACT = OVS_OP_ACT, TL_CRITICAL = OVS_OP_CRITICAL, TL_RELEASE = OVS_OP_RELEASE,
             TL_EXECUTE = OVS_OP_EXECUTE, TL_WRITEBACK = OVS_OP_WRITEBACK,
             TL_NODE = OVS_OP_NODE, TL_FAULT = OVS_OP_FAULT, TL_ANSWER = OVS_OP_ANSWER,
             TL_OTHER = OVS_OP__COUNT };

typedef struct tl_ev {
    int client;         /* events.client; < 0 is the harness */
    int lane;           /* index of the client's lane, top to bottom */
    int op;             /* enum tl_op */
    int outcome;        /* enum ovs_outcome */
    int64_t start, end; /* ns since the run's t0 */
    char *key, *detail; /* malloc'd, never NULL */
    int broke;          /* the write that broke the invariant: its rank among sales, or
                           1 + the event index of the first booking of its key */
} tl_ev;

/* A window in which two or more clients held one key. */
typedef struct tl_win {
    int64_t start, end;
    int holders;    /* most clients holding it at one instant */
    uint32_t lanes; /* lanes of every holder in the window */
    const char *key;
} tl_win;

typedef struct tl_run {
    tl_ev *ev;
    size_t n;
    tl_win *win;
    size_t nwin;
    int lanes;
    int lane_client[TL_MAX_LANES]; /* the client of each lane */
    int inventory;                 /* workload: inventory (else booking) */
    int64_t stock;                 /* initial units, from the failed oversold check */
    int64_t tmax;                  /* last end */
} tl_run;

static void tl_free(tl_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->ev[i].key);
        free(r->ev[i].detail);
    }
    free(r->ev);
    free(r->win);
}

static int tl_load(sqlite3 *db, int64_t run, tl_run *r, size_t n, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc, prev = 0;

    r->ev = calloc(n ? n : 1, sizeof *r->ev);
    if (r->ev == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    /* Clients in ascending order give the lanes; the harness (< 0) comes first. */
    if (ovs_rdb_prepare(db, "SELECT client, op, key, start_ns, end_ns, outcome, detail"
                            " FROM events WHERE run = ?1"
                            " ORDER BY client, start_ns, end_ns, rowid",
                        &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && r->n < n) {
        tl_ev *e = &r->ev[r->n];
        const char *op = ovs_rdb_text(st, 1), *oc = ovs_rdb_text(st, 5);
        int c = sqlite3_column_int(st, 0);
        int who = c < 0 ? -1 : c; /* every harness event shares one lane */

        if (r->lanes == 0 || who != prev) {
            if (r->lanes == TL_MAX_LANES)
                break; /* more clients than counted: the database changed under us */
            r->lane_client[r->lanes++] = who;
            prev = who;
        }
        e->client = c;
        e->lane = r->lanes - 1;
        e->op = (int)ovs_op_parse(op);
        e->outcome = (int)ovs_outcome_parse(oc);
        e->start = sqlite3_column_int64(st, 3);
        e->end = sqlite3_column_int64(st, 4);
        if (e->end < e->start)
            e->end = e->start;
        e->key = ovs_rdb_dup(st, 2);
        e->detail = ovs_rdb_dup(st, 6);
        r->n++;
        if (e->key == NULL || e->detail == NULL) {
            sqlite3_finalize(st);
            ovs_seterr(err, errlen, "out of memory");
            return -1;
        }
        if (e->end > r->tmax)
            r->tmax = e->end;
    }
    if (rc == SQLITE_ROW)
        rc = SQLITE_DONE;
    return ovs_rdb_finish(db, st, rc, err, errlen);
}

/* Sort helpers work on indices into the run's events, through this pointer: qsort has no
 * context argument in C11. Reports are written from one thread. Ties fall back on the
 * index, so the order (and the page) never depends on how qsort treats equal elements. */
static const tl_ev *tl_sort_ev;

static int cmp_index(size_t a, size_t b)
{
    return (a > b) - (a < b);
}

static int cmp_key_start(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const tl_ev *x = &tl_sort_ev[i], *y = &tl_sort_ev[j];
    int k = strcmp(x->key, y->key);
    if (k)
        return k;
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return cmp_index(i, j);
}

static int cmp_end(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const tl_ev *x = &tl_sort_ev[i], *y = &tl_sort_ev[j];
    if (x->end != y->end)
        return (x->end > y->end) - (x->end < y->end);
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return cmp_index(i, j);
}

#define TL_NONE ((size_t)-1)

/* Distinct clients among the n sections open[] (indices into ev). */
static int tl_distinct(const tl_ev *ev, const size_t *open, size_t n)
{
    int d = 0;

    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < i && ev[open[k]].client != ev[open[i]].client)
            k++;
        d += k == i;
    }
    return d;
}

/* Windows where two or more clients held one key at once, by the checker's one
 * definition of overlap (ovs_holds_overlap: half-open, an empty section holds nothing, a
 * client is never its own second holder), so a red band is drawn exactly where the
 * checker counts an overlapping pair. A window is the union of the stretches where two
 * sections overlap; stretches that touch make one window, since no instant between them
 * has fewer than two holders.
 *
 * Per key, in start order: each section overlaps the earlier ones from its start to the
 * latest end among those of other clients, if that end is past its start. So the
 * longest-open section seen (best) and the longest-open one of another client than
 * best's (other) are all there is to compare with; the stretches then come in start order
 * and merge as they arrive. holders is the most distinct clients open at one instant,
 * counted where it can grow: at the start of a section inside the window. */
static int tl_windows(tl_run *r, char *err, size_t errlen)
{
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx), m = 0;
    size_t *open = malloc((r->n ? r->n : 1) * sizeof *open);
    int ret = -1;

    r->win = malloc((r->n + 1) * sizeof *r->win);
    if (idx == NULL || open == NULL || r->win == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].op == TL_CRITICAL && r->ev[i].start < r->ev[i].end)
            idx[m++] = i;
    tl_sort_ev = r->ev;
    qsort(idx, m, sizeof *idx, cmp_key_start);
    for (size_t i = 0; i < m;) {
        size_t j = i, nopen = 0, best = TL_NONE, other = TL_NONE, first_win = r->nwin;
        tl_win *cur = NULL;

        while (j < m && strcmp(r->ev[idx[j]].key, r->ev[idx[i]].key) == 0)
            j++;
        for (size_t h = i; h < j; h++) {
            const tl_ev *c = &r->ev[idx[h]];
            size_t o = best != TL_NONE && r->ev[best].client != c->client ? best : other;
            size_t keep = 0;

            for (size_t k = 0; k < nopen; k++)
                if (r->ev[open[k]].end > c->start)
                    open[keep++] = open[k];
            nopen = keep;
            open[nopen++] = idx[h];
            if (o != TL_NONE && ovs_holds_overlap(r->ev[o].start, r->ev[o].end,
                                                  r->ev[o].client, c->start, c->end,
                                                  c->client)) {
                int64_t end = c->end < r->ev[o].end ? c->end : r->ev[o].end;
                int holders = tl_distinct(r->ev, open, nopen);
                if (cur != NULL && c->start <= cur->end) {
                    cur->end = end > cur->end ? end : cur->end;
                    cur->holders = holders > cur->holders ? holders : cur->holders;
                } else {
                    cur = &r->win[r->nwin++];
                    *cur = (tl_win){ c->start, end, holders, 0, c->key };
                }
            }
            if (best == TL_NONE ||
                (r->ev[best].client == c->client && c->end > r->ev[best].end)) {
                best = idx[h];
            } else if (r->ev[best].client != c->client) {
                if (c->end > r->ev[best].end) {
                    other = best;
                    best = idx[h];
                } else if (other == TL_NONE || c->end > r->ev[other].end) {
                    other = idx[h];
                }
            }
        }
        /* The lanes of every section that held the key during a window: each of them is
         * one of the holders at some instant of it. */
        for (size_t w = first_win; w < r->nwin; w++)
            for (size_t h = i; h < j; h++)
                if (r->ev[idx[h]].start < r->win[w].end && r->ev[idx[h]].end > r->win[w].start)
                    r->win[w].lanes |= UINT32_C(1) << r->ev[idx[h]].lane;
        i = j;
    }
    ret = 0;
out:
    free(idx);
    free(open);
    return ret;
}

/* Mark in ev[].broke the writes that broke the invariant (failed: the run's oversold or
 * double_booked check failed). The writes are the successful acts, or for strategies that
 * only queue orders, the successful write-backs; they count in order of completion. For
 * inventory, the stock is the total the oversold check reports, so with several SKUs the
 * mark falls on the first sale past the total, not per SKU. */
static int tl_broken(tl_run *r, int failed, char *err, size_t errlen)
{
    static const int writes[2] = { TL_ACT, TL_WRITEBACK };
    size_t *idx, m = 0;

    if (!failed)
        return 0;
    if ((idx = malloc((r->n ? r->n : 1) * sizeof *idx)) == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int w = 0; w < 2 && m == 0; w++)
        for (size_t i = 0; i < r->n; i++)
            if (r->ev[i].op == writes[w] && r->ev[i].outcome == OVS_OUT_OK)
                idx[m++] = i;
    tl_sort_ev = r->ev;
    qsort(idx, m, sizeof *idx, cmp_end);
    if (r->inventory) {
        for (size_t k = 0; k < m; k++)
            if ((int64_t)k >= r->stock)
                r->ev[idx[k]].broke = (int)k + 1;
    } else {
        /* Every booking of a key after its first; the first is the one named. */
        for (size_t k = 0; k < m; k++)
            for (size_t f = 0; f < k; f++)
                if (strcmp(r->ev[idx[f]].key, r->ev[idx[k]].key) == 0) {
                    r->ev[idx[k]].broke = (int)idx[f] + 1;
                    break;
                }
    }
    free(idx);
    return 0;
}

static double tl_x(double axis_ms, int64_t t)
{
    return TL_X0 + TL_PLOT * ((double)t / 1e6) / axis_ms;
}

/* "t=150.2–301.9 ms" */
static void tl_span(FILE *out, int64_t a, int64_t b)
{
    fputs("t=", out);
    ovs_html_ms(out, a, 1);
    fputs("–", out);
    ovs_html_ms(out, b, 1);
    fputs(" ms", out);
}

static void tl_title(FILE *out, const tl_ev *e)
{
    fputs("<title>", out);
    if (e->client < 0)
        fputs("harness", out);
    else
        fprintf(out, "client %d", e->client);
    fprintf(out, " %s ", e->op < TL_OTHER ? ovs_op_name((enum ovs_op)e->op) : "other");
    ovs_html_esc(out, e->key);
    fputc(' ', out);
    tl_span(out, e->start, e->end);
    fprintf(out, " %s", ovs_outcome_name((enum ovs_outcome)e->outcome));
    if (*e->detail) {
        fputs(": ", out);
        ovs_html_esc(out, e->detail);
    }
    fputs("</title>", out);
}

/* One event as a mark in its lane: the shape tells the step, the colour the outcome. */
static void tl_mark(FILE *out, const tl_ev *e, double x0, double x1, double y)
{
    double w = x1 - x0;
    const char *dark = tl_dark[e->outcome], *light = tl_light[e->outcome];

    switch (e->op) {
    case TL_REQUEST:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"32\" fill=\"#f6f6f6\""
                     " stroke=\"%s\" stroke-width=\"1\">", x0, y + 4, w < 1 ? 1 : w, dark);
        break;
    case TL_ACQUIRE:
    case TL_RELEASE:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"4\" fill=\"%s\">",
                x0, y + (e->op == TL_ACQUIRE ? 8 : 28), w < 2 ? 2 : w, dark);
        break;
    case TL_CRITICAL:
    case TL_EXECUTE:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" fill=\"%s\""
                     " stroke=\"%s\">", x0, y + 14, w < 2 ? 2 : w,
                e->op == TL_CRITICAL ? light : dark, dark);
        break;
    case TL_CHECK:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" fill=\"#fff\""
                     " stroke=\"%s\" stroke-width=\"2\">", x0, y + 10, w < 4 ? 4 : w, dark);
        break;
    case TL_ACT:
    case TL_WRITEBACK:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\" fill=\"%s\"%s>",
                x0, y + 8, w < 5 ? 5 : w, e->broke ? TL_RED : dark,
                e->op == TL_WRITEBACK ? " stroke=\"#000\" stroke-dasharray=\"2 2\"" : "");
        break;
    case TL_NODE:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"3\" fill=\"%s\">",
                x0, y + 33, w < 1 ? 1 : w, dark);
        break;
    case TL_ANSWER: {
        /* The screen before the request: red when it contradicted SQL (core/answer.h). */
        ovs_answer a;
        int stale = ovs_answer_parse(e->detail, &a) == 0 && ovs_answer_stale(&a);
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" fill=\"%s\""
                     " stroke=\"%s\">", x0, y + 10, w < 4 ? 4 : w, stale ? TL_RED : light,
                dark);
        break;
    }
    default: /* faults and anything newer than this file */
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"#555\">",
                x0, y + 12, w < 3 ? 3 : w);
        break;
    }
    tl_title(out, e);
    fputs("</rect>\n", out);
}

/* Draw order: lower layers first, so short marks stay visible over long bars. */
static const int tl_layers[] = { TL_REQUEST, TL_CRITICAL, TL_EXECUTE, TL_NODE, TL_ACQUIRE,
                                 TL_RELEASE, TL_CHECK, TL_ACT, TL_WRITEBACK, TL_FAULT,
                                 TL_ANSWER, TL_OTHER };

/* A red label above the lanes, pointing down at what it names. */
typedef struct tl_label {
    double x;      /* where the pointer line is */
    double lx;     /* where the text starts, after placement */
    int right;     /* pushed against the right edge: lx is where the text ends */
    double target; /* y the pointer line ends at */
    int row;       /* -1: no room; the list under the chart still has it */
    char text[128];
} tl_label;

/* Width of text in px, from an average width per character (not per byte). Generous:
 * too wide only wastes room, too narrow makes labels collide. */
static double tl_text_width(const char *s, double per_char)
{
    size_t chars = 0;
    for (; *s; s++)
        chars += ((unsigned char)*s & 0xC0) != 0x80;
    return per_char * (double)chars;
}

static int cmp_label(const void *a, const void *b)
{
    const tl_label *x = a, *y = b;
    if (x->x != y->x)
        return (x->x > y->x) - (x->x < y->x);
    return strcmp(x->text, y->text);
}

/* Sort labels left to right and give each the first row where it does not run into the
 * one before. Returns the rows used. */
static int tl_place(tl_label *lab, size_t n)
{
    double row_end[TL_LABEL_ROWS];
    int rows = 0;

    qsort(lab, n, sizeof *lab, cmp_label);
    for (int i = 0; i < TL_LABEL_ROWS; i++)
        row_end[i] = -1e9;
    for (size_t i = 0; i < n; i++) {
        double w = tl_text_width(lab[i].text, 7.6); /* 12px bold */
        double x0 = lab[i].x + w > TL_W - 4 ? TL_W - 4 - w : lab[i].x;
        lab[i].right = x0 != lab[i].x;
        lab[i].lx = lab[i].right ? TL_W - 4 : x0;
        lab[i].row = -1;
        for (int k = 0; k < TL_LABEL_ROWS; k++)
            if (x0 >= row_end[k] + 12) {
                row_end[k] = x0 + w;
                lab[i].row = k;
                rows = k + 1 > rows ? k + 1 : rows;
                break;
            }
    }
    return rows;
}

/* "t=150.2–301.9 ms" into a buffer. */
static void tl_span_text(char *buf, size_t len, int64_t a, int64_t b)
{
    char x[32], y[32];

    ovs_report_fixed(a, OVS_NS_PER_MS, 1, x, sizeof x);
    ovs_report_fixed(b, OVS_NS_PER_MS, 1, y, sizeof y);
    snprintf(buf, len, "t=%s–%s ms", x, y);
}

/* One label per overlap window and per write that broke the invariant, in that order. */
static tl_label *tl_labels(const tl_run *r, double axis_ms, double top, size_t *n)
{
    tl_label *lab = calloc(r->n + r->nwin + 1, sizeof *lab);
    char span[80], num[32];

    *n = 0;
    if (lab == NULL)
        return NULL;
    for (size_t i = 0; i < r->nwin; i++) {
        const tl_win *w = &r->win[i];
        int first = 0;
        while (first < r->lanes && !(w->lanes & (UINT32_C(1) << first)))
            first++;
        tl_label *l = &lab[(*n)++];
        tl_span_text(span, sizeof span, w->start, w->end);
        l->x = tl_x(axis_ms, w->start);
        l->target = top + first * TL_LANE;
        snprintf(l->text, sizeof l->text, "%d holders %s", w->holders, span);
    }
    for (size_t i = 0; i < r->n; i++) {
        const tl_ev *e = &r->ev[i];
        tl_label *l;
        if (!e->broke)
            continue;
        l = &lab[(*n)++];
        ovs_report_fixed(e->end, OVS_NS_PER_MS, 1, num, sizeof num);
        l->x = tl_x(axis_ms, e->end) + 4;
        l->target = top + e->lane * TL_LANE + 2;
        if (r->inventory)
            snprintf(l->text, sizeof l->text, "sale %d beyond stock %lld t=%s ms", e->broke,
                     (long long)r->stock, num);
        else
            snprintf(l->text, sizeof l->text, "double booking t=%s ms", num);
    }
    return lab;
}

/* In a small run, what each check and write said, under its mark: two checks that both
 * found the room free are the race, in words. A word that would run into the one before
 * it in its lane is left out (the mark's tooltip still has it). */
static void tl_words(FILE *out, const tl_run *r, double axis_ms, double top)
{
    double lane_end[TL_MAX_LANES];
    char text[128];

    for (int l = 0; l < TL_MAX_LANES; l++)
        lane_end[l] = -1e9;
    /* Events are in lane order and by start within a lane. */
    for (size_t i = 0; i < r->n; i++) {
        const tl_ev *e = &r->ev[i];
        double x = tl_x(axis_ms, e->start), w;
        if (e->op != TL_CHECK && e->op != TL_ACT && e->op != TL_EXECUTE &&
            e->op != TL_WRITEBACK && e->op != TL_FAULT)
            continue;
        int said = e->outcome != OVS_OUT_OK; /* an ok step goes without saying */
        snprintf(text, sizeof text, "%s%s%s%s%s", ovs_op_name((enum ovs_op)e->op),
                 said ? " " : "", said ? ovs_outcome_name((enum ovs_outcome)e->outcome) : "",
                 *e->detail && strlen(e->detail) <= 32 ? ": " : "",
                 strlen(e->detail) <= 32 ? e->detail : "");
        w = tl_text_width(text, 6.0); /* 10px */
        if (x < lane_end[e->lane] + 8 || x + w > TL_W)
            continue;
        lane_end[e->lane] = x + w;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">", x,
                top + e->lane * TL_LANE + 45);
        ovs_html_esc(out, text);
        fputs("</text>\n", out);
    }
}

static void tl_lane_label(FILE *out, const tl_run *r, int lane)
{
    if (r->lane_client[lane] < 0)
        fputs("harness", out);
    else
        fprintf(out, "client %d", r->lane_client[lane]);
}

static int tl_draw(FILE *out, const tl_run *r, const char *title, char *err, size_t errlen)
{
    double step = ovs_html_nice_step(r->tmax > 0 ? (double)r->tmax / 1e6 : 1, 10), axis_ms;
    double top, bottom;
    tl_label *lab;
    size_t nlab;
    int rows;

    axis_ms = ceil(((r->tmax > 0 ? (double)r->tmax : 1) / 1e6) / step - 1e-9) * step;
    /* Labels are placed before anything is drawn: their rows decide where lanes start. */
    if ((lab = tl_labels(r, axis_ms, 0, &nlab)) == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    rows = tl_place(lab, nlab);
    top = 8 + rows * TL_LABEL_ROW + (rows ? 8 : 0);
    for (size_t i = 0; i < nlab; i++)
        lab[i].target += top;
    bottom = top + r->lanes * TL_LANE;

    ovs_html_svg_open(out, "timeline", TL_W, bottom + 42);
    fputs("<title>", out);
    ovs_html_esc(out, title);
    fputs("</title>\n", out);
    for (int l = 0; l < r->lanes; l++) {
        double y = top + l * TL_LANE;
        fprintf(out, "<rect x=\"0\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                     "<text x=\"6\" y=\"%.1f\" class=\"lbl strong\">",
                y, TL_W, TL_LANE, l % 2 ? "#fafafa" : "#f0f3f7", y + 25);
        tl_lane_label(out, r, l);
        fputs("</text>\n", out);
    }
    for (int k = 0; k * step <= axis_ms + step / 2; k++) {
        double x = TL_X0 + TL_PLOT * k * step / axis_ms;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, top, x, bottom + 4, k ? "#d8d8d8" : "#555", x, bottom + 16);
        ovs_html_tick(out, k * step, step);
        fputs("</text>\n", out);
    }
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"lbl\">"
                 "time since the run started, ms</text>\n",
            TL_X0, bottom, TL_X0 + TL_PLOT, bottom, TL_X0 + TL_PLOT / 2, bottom + 34);

    /* Overlap windows: a band across the holders' lanes, under the marks. */
    for (size_t i = 0; i < r->nwin; i++) {
        const tl_win *w = &r->win[i];
        int first = -1, last = -1;
        double x0 = tl_x(axis_ms, w->start), x1 = tl_x(axis_ms, w->end);
        for (int l = 0; l < r->lanes; l++)
            if (w->lanes & (UINT32_C(1) << l)) {
                first = first < 0 ? l : first;
                last = l;
            }
        if (first < 0)
            continue;
        fprintf(out, "<rect class=\"viol\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
                     " height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.13\" stroke=\"%s\""
                     " stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n",
                x0, top + first * TL_LANE, x1 - x0 < 2 ? 2 : x1 - x0,
                (last - first + 1) * TL_LANE, TL_RED, TL_RED);
    }
    /* Faults: a grey band across every lane, so what each client was doing when the
     * harness struck is read straight down. */
    for (size_t i = 0; i < r->n; i++) {
        const tl_ev *e = &r->ev[i];
        double x0 = tl_x(axis_ms, e->start), x1 = tl_x(axis_ms, e->end);
        if (e->op == TL_FAULT)
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
                         " fill=\"#555\" fill-opacity=\"0.12\"/>\n",
                    x0, top, x1 - x0 < 1.5 ? 1.5 : x1 - x0, bottom - top);
    }
    for (size_t L = 0; L < sizeof tl_layers / sizeof tl_layers[0]; L++)
        for (size_t i = 0; i < r->n; i++) {
            const tl_ev *e = &r->ev[i];
            if (e->op == tl_layers[L])
                tl_mark(out, e, tl_x(axis_ms, e->start), tl_x(axis_ms, e->end),
                        top + e->lane * TL_LANE);
        }
    if (r->n <= TL_TEXT_EVENTS)
        tl_words(out, r, axis_ms, top);
    /* Overlap windows again, on top of the lock-hold bars they cover. */
    for (size_t i = 0; i < r->nwin; i++) {
        const tl_win *w = &r->win[i];
        double x0 = tl_x(axis_ms, w->start), x1 = tl_x(axis_ms, w->end);
        for (int l = 0; l < r->lanes; l++)
            if (w->lanes & (UINT32_C(1) << l)) {
                fprintf(out, "<rect class=\"viol\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
                             " height=\"12\" fill=\"%s\"><title>%d holders of ",
                        x0, top + l * TL_LANE + 14, x1 - x0 < 2 ? 2 : x1 - x0, TL_RED,
                        w->holders);
                ovs_html_esc(out, w->key);
                fputc(' ', out);
                tl_span(out, w->start, w->end);
                fputs("</title></rect>\n", out);
            }
    }
    /* The writes that broke the invariant: outlined in red (their fill is red too). */
    for (size_t i = 0; i < r->n; i++) {
        const tl_ev *e = &r->ev[i];
        double x0 = tl_x(axis_ms, e->start), x1 = tl_x(axis_ms, e->end);
        if (!e->broke)
            continue;
        if (x1 - x0 < 5)
            x1 = x0 + 5;
        fprintf(out, "<rect class=\"viol\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"32\""
                     " fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                x0 - 4, top + e->lane * TL_LANE + 4, x1 - x0 + 8, TL_RED);
    }
    for (size_t i = 0; i < nlab; i++) {
        double ty = 8 + lab[i].row * TL_LABEL_ROW + 10;
        if (lab[i].row < 0)
            continue;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
                     " stroke-width=\"1.5\"/><text class=\"vtext\" x=\"%.1f\" y=\"%.1f\"%s>",
                lab[i].x, ty + 3, lab[i].x, lab[i].target, TL_RED, lab[i].lx, ty,
                lab[i].right ? " text-anchor=\"end\"" : "");
        ovs_html_esc(out, lab[i].text);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n", out);
    free(lab);
    return 0;
}

/* The violations in words, with their times, under the chart. */
static void tl_list(FILE *out, const tl_run *r)
{
    size_t shown = 0, total = r->nwin;

    for (size_t i = 0; i < r->n; i++)
        total += r->ev[i].broke != 0;
    if (total == 0) {
        fputs("<p class=\"note\">No violations drawn: no overlapping critical sections and"
              " no write beyond what the invariant allows.</p>\n", out);
        return;
    }
    fputs("<ul class=\"violations\">\n", out);
    for (size_t i = 0; i < r->nwin && shown < TL_LIST_MAX; i++, shown++) {
        const tl_win *w = &r->win[i];
        int k = 0;
        fputs("<li>", out);
        for (int l = 0; l < r->lanes; l++)
            if (w->lanes & (UINT32_C(1) << l)) {
                fputs(k++ ? ", " : "", out);
                tl_lane_label(out, r, l);
            }
        fprintf(out, ": %d holders of <code>", w->holders);
        ovs_html_esc(out, w->key);
        fputs("</code> at once, ", out);
        tl_span(out, w->start, w->end);
        fputs("</li>\n", out);
    }
    for (size_t i = 0; i < r->n && shown < TL_LIST_MAX; i++) {
        const tl_ev *e = &r->ev[i];
        if (!e->broke)
            continue;
        shown++;
        fprintf(out, "<li>client %d ", e->client);
        if (r->inventory) {
            fprintf(out, "made sale %d of <code>", e->broke);
            ovs_html_esc(out, e->key);
            fprintf(out, "</code> at t=");
            ovs_html_ms(out, e->end, 1);
            fprintf(out, " ms, beyond the initial stock of %lld", (long long)r->stock);
        } else {
            const tl_ev *f = &r->ev[e->broke - 1];
            fputs("booked <code>", out);
            ovs_html_esc(out, e->key);
            fputs("</code> at t=", out);
            ovs_html_ms(out, e->end, 1);
            fprintf(out, " ms, already booked by client %d at t=", f->client);
            ovs_html_ms(out, f->end, 1);
            fputs(" ms", out);
        }
        fputs("</li>\n", out);
    }
    if (total > shown)
        fprintf(out, "<li>… and %zu more</li>\n", total - shown);
    fputs("</ul>\n", out);
}

/* The workload of the run and whether its oversold or double_booked check failed; for
 * inventory, the initial stock from the check's detail ("N orders for M units"). */
static int tl_facts(sqlite3 *db, int64_t run, tl_run *r, int *failed, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    *failed = 0;
    if (ovs_rdb_prepare(db, "SELECT r.workload, c.verdict, c.detail FROM runs r"
                            " LEFT JOIN checks c ON c.run = r.id AND c.invariant ="
                            " CASE r.workload WHEN 'inventory' THEN 'oversold'"
                            " ELSE 'double_booked' END"
                            " WHERE r.id = ?1 ORDER BY c.rowid LIMIT 1",
                        &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *wl = ovs_rdb_text(st, 0), *v = ovs_rdb_text(st, 1);
        const char *d = ovs_rdb_text(st, 2);
        const char *p = d != NULL ? strstr(d, "orders for ") : NULL;
        r->inventory = wl != NULL && strcmp(wl, "inventory") == 0;
        *failed = v != NULL && strcmp(v, "fail") == 0;
        if (r->inventory) {
            /* Without a stock figure there is no line to draw the oversale from. */
            if (p != NULL)
                r->stock = strtoll(p + strlen("orders for "), NULL, 10);
            else
                *failed = 0;
        }
        rc = SQLITE_DONE;
    }
    return ovs_rdb_finish(db, st, rc, err, errlen);
}

/* What the marks of a timeline mean. */
static void tl_legend(FILE *out)
{
    static const struct {
        const char *label, *shape;
    } items[] = {
        { "request", "<rect x=\"0\" y=\"2\" width=\"26\" height=\"16\" fill=\"#f6f6f6\""
                     " stroke=\"#2166ac\"/>" },
        { "acquire / release", "<rect x=\"0\" y=\"8\" width=\"26\" height=\"4\""
                               " fill=\"#2166ac\"/>" },
        { "lock held", "<rect x=\"0\" y=\"4\" width=\"26\" height=\"12\" fill=\"#9ecae1\""
                       " stroke=\"#2166ac\"/>" },
        { "check", "<rect x=\"8\" y=\"1\" width=\"8\" height=\"18\" fill=\"#fff\""
                   " stroke=\"#2166ac\" stroke-width=\"2\"/>" },
        { "act (the write)", "<rect x=\"8\" y=\"0\" width=\"8\" height=\"20\""
                             " fill=\"#2166ac\"/>" },
        { "node step", "<rect x=\"0\" y=\"14\" width=\"26\" height=\"3\" fill=\"#2166ac\"/>" },
        { "ok", "<rect x=\"6\" y=\"3\" width=\"14\" height=\"14\" fill=\"#2166ac\"/>" },
        { "fail", "<rect x=\"6\" y=\"3\" width=\"14\" height=\"14\" fill=\"#e08214\"/>" },
        { "unknown", "<rect x=\"6\" y=\"3\" width=\"14\" height=\"14\" fill=\"#8e44ad\"/>" },
        { "2+ lock holders", "<rect x=\"0\" y=\"0\" width=\"26\" height=\"20\" fill=\"#d00000\""
                             " fill-opacity=\"0.13\" stroke=\"#d00000\" stroke-dasharray=\"5 3\"/>"
                             "<rect x=\"0\" y=\"4\" width=\"26\" height=\"12\""
                             " fill=\"#d00000\"/>" },
        { "write that broke it", "<rect x=\"8\" y=\"0\" width=\"8\" height=\"20\""
                                 " fill=\"#d00000\"/><rect x=\"5\" y=\"-2\" width=\"14\""
                                 " height=\"24\" fill=\"none\" stroke=\"#d00000\""
                                 " stroke-width=\"2\"/>" },
    };
    enum { NITEMS = sizeof items / sizeof items[0] };
    double x = 4, at[NITEMS][2], h;

    /* Lay out first (wrapping into rows as wide as a timeline), then size the SVG. */
    for (size_t i = 0; i < NITEMS; i++) {
        double w = 40 + tl_text_width(items[i].label, 6.0);
        at[i][1] = i ? at[i - 1][1] : 5;
        if (x + w > TL_W && x > 4) {
            x = 4;
            at[i][1] += 28;
        }
        at[i][0] = x;
        x += w;
    }
    h = at[NITEMS - 1][1] + 27;
    ovs_html_svg_open(out, "legend", TL_W, h);
    for (size_t i = 0; i < NITEMS; i++)
        fprintf(out, "<g transform=\"translate(%.0f %.0f)\">%s<text x=\"32\" y=\"14\">%s"
                     "</text></g>\n", at[i][0], at[i][1], items[i].shape, items[i].label);
    fputs("</svg>\n", out);
}

int ovs_html_timeline(sqlite3 *db, FILE *out, int64_t run, const char *title, int *legend,
                      char *why, size_t whylen, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    tl_run r = { 0 };
    long long clients = 0, events = 0;
    int rc, failed, ret = -1;

    if (ovs_rdb_prepare(db, "SELECT COUNT(DISTINCT CASE WHEN client >= 0 THEN client END),"
                            " COUNT(*) FROM events WHERE run = ?1", &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        clients = sqlite3_column_int64(st, 0);
        events = sqlite3_column_int64(st, 1);
        rc = SQLITE_DONE;
    }
    if (ovs_rdb_finish(db, st, rc, err, errlen) < 0)
        return -1;
    if (events == 0 || clients > OVS_HTML_TIMELINE_CLIENTS || events > TL_MAX_EVENTS) {
        if (events == 0)
            snprintf(why, whylen, "no events recorded");
        else if (clients > OVS_HTML_TIMELINE_CLIENTS)
            snprintf(why, whylen, "%lld clients (at most %d are drawn)", clients,
                     OVS_HTML_TIMELINE_CLIENTS);
        else
            snprintf(why, whylen, "%lld events (at most %d are drawn)", events,
                     TL_MAX_EVENTS);
        return 0;
    }
    if (tl_facts(db, run, &r, &failed, err, errlen) < 0 ||
        tl_load(db, run, &r, (size_t)events, err, errlen) < 0 ||
        tl_windows(&r, err, errlen) < 0 || tl_broken(&r, failed, err, errlen) < 0)
        goto out;
    if (!*legend) {
        tl_legend(out);
        *legend = 1;
    }
    fprintf(out, "<figure id=\"tl-run-%lld\"><figcaption>", (long long)run);
    ovs_html_esc(out, title);
    fputs("</figcaption>\n", out);
    if (tl_draw(out, &r, title, err, errlen) < 0)
        goto out;
    tl_list(out, &r);
    fputs("</figure>\n", out);
    ret = 1;
out:
    tl_free(&r);
    return ret;
}
