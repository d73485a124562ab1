/* explain_table.c - `oversell explain`: a run as a time table, one column per client.
 *
 * The rows come from the model (explain_model.h) in time order; this file fits them into
 * EX_WIDTH columns the way a teacher draws the interleaving on a board: the time, then
 * each client's step in its own column, with lane marks showing who is inside a request
 * or holding the lock while another acts. Then the checks, each broken invariant at the
 * step that broke it, or who was refused when the run held. Colour is optional and only
 * ever adds ANSI codes around text that is there without it. */
#include "reports/explain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "core/answer.h"
#include "core/util.h"

/* The table fits this many columns for up to EX_MAX_COLUMNS clients. */
#define EX_WIDTH 100
#define EX_TIME_W 10      /* "  150.2 ms" */
#define EX_GAP 2          /* spaces between columns */
#define EX_MAX_COLUMNS 4  /* more clients than this: one line per step, client named */
#define EX_CELL_MAX 60    /* a lone client's column need not be 88 wide */
#define EX_NAME_MAX 12    /* the client column in the one-line-per-step layout */
/* Refused clients named in the "held" line; the rest are counted. */
#define EX_REFUSALS_NAMED 3

#define EX_RED "\033[31m"
#define EX_GREEN "\033[32m"
#define EX_YELLOW "\033[33m"
#define EX_DIM "\033[2m"
#define EX_ALARM "\033[1;31m"
#define EX_RESET "\033[0m"

/* ---- fitting text into columns --------------------------------------------------------- */

/* Display columns of UTF-8 text: every character used here is one column wide. */
static size_t ex_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* src cut to at most width display columns into dst, with "…" where it was cut. */
static void ex_fit(char *dst, size_t cap, const char *src, size_t width)
{
    size_t w = 0, i = 0;

    if (ex_width(src) <= width) {
        ovs_ex_copy(dst, cap, src);
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

/* The row's text in at most width columns: with the key if it fits, else without, else
 * cut. The outcome matters most, so a cut falls before the "→" when what follows it is
 * short enough to keep whole: "act: UPDATE stock, IN… → ok". */
static void ex_phrase_fit(const ovs_ex_run *r, const ovs_ex_row *row, size_t width, char *buf,
                          size_t len)
{
    char full[320], head[320];
    const char *arrow;
    size_t tw;

    ovs_ex_phrase(r, row, 1, full, sizeof(full));
    if (ex_width(full) > width)
        ovs_ex_phrase(r, row, 0, full, sizeof(full));
    if (ex_width(full) > width && (arrow = strstr(full, " → ")) != NULL &&
        (tw = ex_width(arrow)) + 8 <= width) {
        memcpy(head, full, (size_t)(arrow - full));
        head[arrow - full] = '\0';
        ex_fit(buf, len, head, width - tw);
        ovs_ex_fmt(buf + strlen(buf), len - strlen(buf), "%s", arrow);
        return;
    }
    ex_fit(buf, len, full, width);
}

/* ---- the rows -------------------------------------------------------------------------- */

static int ex_cmp_row(const void *a, const void *b)
{
    const ovs_ex_row *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The table's rows, in time order. Caller frees. */
static ovs_ex_row *ex_rows(const ovs_ex_run *r, size_t *nrows)
{
    /* At most three rows an event: a wait's two, and the think after a nested acquire. */
    ovs_ex_row *rows = malloc((3 * r->n + 1) * sizeof(*rows));
    size_t n = 0;

    *nrows = 0;
    if (rows == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const ovs_ex_event *e = &r->ev[i];
        int64_t gap;
        if (e->op == EX_CRITICAL || (e->op == EX_NODE && e->folded))
            continue;
        if (e->op == EX_REQUEST && e->inner) {
            rows[n] = (ovs_ex_row){ e->end, n, i, EX_END, 0 };
            n++;
        } else if (ovs_ex_slow(e)) {
            rows[n] = (ovs_ex_row){ e->start, n, i, EX_BEGIN, 0 };
            n++;
            rows[n] = (ovs_ex_row){ e->end, n, i, EX_END, 0 };
            n++;
        } else {
            rows[n] = (ovs_ex_row){ e->start, n, i, EX_ONE, 0 };
            n++;
        }
        if ((gap = ovs_ex_think_after(r, i)) > 0) {
            rows[n] = (ovs_ex_row){ e->end, n, i, EX_THINK, gap };
            n++;
        }
    }
    qsort(rows, n, sizeof(*rows), ex_cmp_row);
    *nrows = n;
    return rows;
}

/* The row shows its step done, and that step broke an invariant. */
static int ex_row_breaks(const ovs_ex_run *r, const ovs_ex_row *row)
{
    return (row->part == EX_ONE || row->part == EX_END) && ovs_ex_break_at(r, row->ev) != NULL;
}

static const char *ex_tone(const ovs_ex_run *r, const ovs_ex_row *row)
{
    const ovs_ex_event *e = &r->ev[row->ev];

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
        ovs_ex_copy(tok, n + 1 < sizeof(tok) ? n + 1 : sizeof(tok), p + sp);
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

static void ex_header(const ovs_ex_run *r, FILE *out)
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
    ovs_ex_fmt(seed, sizeof(seed), "%" PRIu64, r->seed);
    fprintf(out, "  seed      %s\n", seed);
    if (strcmp(r->status, "ok") != 0) {
        fputs("  status    ", out);
        char st[400];
        ovs_ex_fmt(st, sizeof(st), "%s%s%s: the run did not finish, so the checks may be missing",
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

    ovs_ex_ms(t, num, sizeof(num));
    ovs_ex_fmt(cell, sizeof(cell), "%7s ms", num);
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
static int ex_lane(const ovs_ex_run *r, int client, int64_t t)
{
    int state = 0;

    for (size_t i = 0; i < r->n && r->ev[i].start <= t; i++) {
        const ovs_ex_event *e = &r->ev[i];
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
static int ex_columns(const ovs_ex_run *r, const ovs_ex_row *rows, size_t nrows, int color,
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
        ovs_ex_name(r, r->ids[c], name, sizeof(name));
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
        const ovs_ex_row *row = &rows[k];
        const ovs_ex_event *e = &r->ev[row->ev];
        int col = ovs_ex_column_of(r, e->client);
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
static void ex_lines(const ovs_ex_run *r, const ovs_ex_row *rows, size_t nrows, int color,
                     FILE *out)
{
    size_t namew = 0, w;
    char name[64], cell[256];

    for (size_t c = 0; c < r->nids; c++) {
        ovs_ex_name(r, r->ids[c], name, sizeof(name));
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
        const ovs_ex_row *row = &rows[k];
        char fitted[64];

        ex_put_time(out, row->t, ex_row_breaks(r, row), color);
        ovs_ex_name(r, r->ev[row->ev].client, name, sizeof(name));
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
static void ex_refusal(const ovs_ex_run *r, size_t q, char *buf, size_t len)
{
    const ovs_ex_event *req = &r->ev[q];
    size_t why = q;
    int64_t waited = 0;
    char name[64], t[32], step[256], d[32];
    ovs_ex_row row;

    for (size_t j = q + 1; j < r->n && r->ev[j].start <= req->end; j++) {
        const ovs_ex_event *e = &r->ev[j];
        if (e->client != req->client)
            continue;
        if (e->outcome != EX_OK &&
            (e->op == EX_CHECK || e->op == EX_ACT || e->op == EX_ACQUIRE || e->op == EX_EXECUTE))
            why = j;
        if (e->op == EX_ACQUIRE && e->outcome == EX_OK && ovs_ex_slow(e))
            waited += e->end - e->start;
    }
    ovs_ex_name(r, req->client, name, sizeof(name));
    if (why == q) {
        ovs_ex_ms(req->inner ? req->end : req->start, t, sizeof(t));
        ovs_ex_fmt(buf, len, "%s was refused at t=%s ms (%s)", name, t,
                   req->detail[0] ? req->detail : "failed");
        return;
    }
    row = (ovs_ex_row){ ovs_ex_done_time(&r->ev[why]), 0, why,
                    ovs_ex_slow(&r->ev[why]) ? EX_END : EX_ONE, 0 };
    ovs_ex_ms(row.t, t, sizeof(t));
    ovs_ex_phrase(r, &row, 0, step, sizeof(step));
    if (waited > 0) {
        ovs_ex_dur(waited, d, sizeof(d));
        ovs_ex_fmt(buf, len, "%s was refused at t=%s ms (%s) after waiting %s for the lock", name,
                   t, step, d);
    } else {
        ovs_ex_fmt(buf, len, "%s was refused at t=%s ms (%s)", name, t, step);
    }
}

/* "held: no double booking. bob was refused at t=..." */
static int ex_held(const ovs_ex_run *r, FILE *out)
{
    ovs_ex_write *q = malloc((r->n ? r->n : 1) * sizeof(*q));
    size_t nq = 0;
    char line[1024], one[400];
    size_t used;

    if (q == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].op == EX_REQUEST && r->ev[i].outcome == EX_FAIL)
            q[nq++] = (ovs_ex_write){ r->ev[i].end, r->ev[i].start, i };
    qsort(q, nq, sizeof(*q), ovs_ex_cmp_write);
    ovs_ex_fmt(line, sizeof(line), "held: %s.",
               r->booking ? "no double booking" : "nothing oversold");
    used = strlen(line);
    for (size_t k = 0; k < nq && k < EX_REFUSALS_NAMED; k++) {
        ex_refusal(r, q[k].i, one, sizeof(one));
        ovs_ex_fmt(line + used, sizeof(line) - used, "%s%s", k ? "; " : " ", one);
        used = strlen(line);
    }
    if (nq > EX_REFUSALS_NAMED)
        ovs_ex_fmt(line + used, sizeof(line) - used, "; and %zu more refused.",
                   nq - EX_REFUSALS_NAMED);
    else if (nq > 0)
        ovs_ex_fmt(line + used, sizeof(line) - used, ".");
    free(q);
    ex_wrap(out, line, 0, 2);
    return 0;
}

/* The checks, where each broken one broke, or that the run held. */
static int ex_verdict(const ovs_ex_run *r, int color, FILE *out)
{
    char line[512], name[64], t[32], step[256];
    int primary_pass = 1, have_primary = 0;

    if (r->verdict[0] != '\0') {
        int unsafe = strcmp(r->verdict, "unsafe") == 0;
        ex_put(out, "verdict", NULL, 0);
        fputs("   ", out);
        ex_put(out, unsafe ? "UNSAFE" : r->verdict, unsafe ? EX_ALARM : EX_GREEN, color);
        ovs_ex_fmt(line, sizeof(line), "%s%s%s%s%s",
                   r->expect[0] ? " (expected " : "", r->expect, r->expect[0] ? ")" : "",
                   r->figure[0] ? ": " : "", r->figure);
        ex_wrap(out, line, 10 + ex_width(unsafe ? "UNSAFE" : r->verdict), 10);
    }
    if (r->nck == 0) {
        fputs("no checks recorded for this run\n", out);
        return 0;
    }
    /* The invariant's column fits the longest name, sold_after_expiry. */
    for (size_t i = 0; i < r->nck; i++) {
        const ovs_ex_check *c = &r->ck[i];
        fputs("  ", out);
        /* A figure beside the verdict (stale answers) neither passes nor fails it. */
        if (ovs_check_is_figure(c->invariant)) {
            ex_put(out, "note", c->pass ? EX_GREEN : EX_RED, color);
            ovs_ex_fmt(line, sizeof(line), "  %-17s %lld, beside the verdict%s%s", c->invariant,
                       c->observed, c->detail[0] ? ": " : "", c->detail);
            ex_wrap(out, line, 6, 26);
            continue;
        }
        ex_put(out, c->pass ? "pass" : "FAIL", c->pass ? EX_GREEN : EX_RED, color);
        ovs_ex_fmt(line, sizeof(line), "  %-17s %lld (expected %lld)%s%s", c->invariant,
                   c->observed, c->expected, c->detail[0] ? ": " : "", c->detail);
        ex_wrap(out, line, 6, 26);
        if (strcmp(c->invariant, "double_booked") == 0 || strcmp(c->invariant, "oversold") == 0) {
            have_primary = 1;
            primary_pass &= c->pass;
        }
    }
    fputc('\n', out);
    for (int b = 0; b < r->nbrk; b++) {
        const ovs_ex_break *k = &r->brk[b];
        const ovs_ex_event *e = &r->ev[k->ev];
        ovs_ex_row row = { k->t, 0, k->ev, ovs_ex_slow(e) ? EX_END : EX_ONE, 0 };

        if (e->op == EX_CRITICAL)
            ovs_ex_fmt(step, sizeof(step), "critical section on %s began", e->key);
        else
            ovs_ex_phrase(r, &row, 1, step, sizeof(step));
        ovs_ex_name(r, e->client, name, sizeof(name));
        ovs_ex_ms(k->t, t, sizeof(t));
        fputs(color ? EX_ALARM "broke" EX_RESET : "broke", out);
        ovs_ex_fmt(line, sizeof(line), " at t=%s ms: %s's %s. %s", t, name, step, k->why);
        ex_wrap(out, line, 5, 2);
    }
    for (size_t i = 0; i < r->nck; i++) {
        const ovs_ex_check *c = &r->ck[i];
        int placed = 0;
        if (c->pass || ovs_check_is_figure(c->invariant))
            continue;
        for (int b = 0; b < r->nbrk; b++)
            placed |= strcmp(r->brk[b].invariant, c->invariant) == 0;
        if (!placed) {
            ovs_ex_fmt(line, sizeof(line), "broke: %s, at no single step the events can show.",
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
    ovs_ex_run r;
    ovs_ex_row *rows;
    size_t nrows;
    int ret = -1;

    if (ovs_ex_open(results, run_id, client_names, n_names, &r, err, errlen) < 0)
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
    ovs_ex_run_free(&r);
    return ret;
}
