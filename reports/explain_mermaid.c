/* explain_mermaid.c - `oversell explain --mermaid`: a run as a Mermaid sequence diagram.
 *
 * The clients, "Lock" (Redis or whatever the strategy locks with) and "Shop" (the SQL
 * database) are the participants; each step of the model (explain_model.h) becomes a
 * request and its answer, times are notes, and the step that broke an invariant is boxed
 * in red. Every text goes through ex_mm_text, so no event detail can end or comment out
 * a Mermaid statement. */
#include "reports/explain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "reports/explain_model.h"
#include "core/util.h"

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
    ovs_ex_copy(m[*n].text, sizeof(m[*n].text), text);
    (*n)++;
}

/* An event as the messages of the diagram (at most 4). */
static void ex_msgs_of(const ovs_ex_run *r, size_t i, ex_msg *m, size_t *n)
{
    const ovs_ex_event *e = &r->ev[i];
    int c = e->client;
    char text[200], answer[200], d[32];
    ovs_ex_row one = { e->start, 0, i, EX_ONE, 0 };
    int64_t gap;

    ovs_ex_bad(e, answer, sizeof(answer));
    /* The answers drop ovs_ex_bad's arrow: the arrow is drawn. */
    memmove(answer, answer + strlen("→ "), strlen(answer + strlen("→ ")) + 1);
    switch (e->op) {
    case EX_ACQUIRE: {
        long long tries = ovs_ex_attempts(e);
        ovs_ex_fmt(text, sizeof(text), "%s %s", ovs_ex_nested(e) ? "re-enter" : "acquire",
                   e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        if (e->rounds > 1) {
            ovs_ex_fmt(text, sizeof(text), "busy (%d/%d nodes), retry later", e->first_locked,
                       e->first_asked);
            ex_msg_add(m, n, e->first_end, i, EX_STEP, EX_LOCK, c, text);
        }
        ovs_ex_dur(e->end - e->start, d, sizeof(d));
        if (e->outcome == EX_OK && ovs_ex_slow(e))
            ovs_ex_fmt(text, sizeof(text), "ok after %s (%lld attempt%s)", d, tries > 0 ? tries : 1,
                       tries > 1 ? "s" : "");
        else if (e->outcome == EX_OK && e->rounds > 0)
            ovs_ex_fmt(text, sizeof(text), "ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else if (e->outcome == EX_OK)
            ovs_ex_fmt(text, sizeof(text), "ok (%lld attempt%s)", tries > 0 ? tries : 1,
                       tries > 1 ? "s" : "");
        else if (ovs_ex_busy(e))
            ovs_ex_fmt(text, sizeof(text), "busy, gave up after %s", d);
        else
            ovs_ex_fmt(text, sizeof(text), "%s", answer);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        /* A nest's think is spent inside it (ovs_ex_think_after). */
        if ((gap = ovs_ex_think_after(r, i)) > 0) {
            ovs_ex_dur(gap, d, sizeof(d));
            ovs_ex_fmt(text, sizeof(text), "thinks %s in the nest", d);
            ex_msg_add(m, n, e->end, i, EX_NOTE, c, c, text);
        }
        break;
    }
    case EX_CHECK:
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_SHOP,
                   r->booking ? "check: is the room free?" : "check: stock left?");
        ovs_ex_phrase(r, &one, 0, text, sizeof(text));
        /* "check: room free (0 overlapping)" answers as "room free (0 overlapping)"; a
         * check without figures as ovs_ex_bad says it. */
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, c,
                   strncmp(text, "check: ", 7) == 0 ? text + 7
                   : e->outcome == EX_OK ? "ok" : answer);
        if ((gap = ovs_ex_think_after(r, i)) > 0) {
            ovs_ex_dur(gap, d, sizeof(d));
            ovs_ex_fmt(text, sizeof(text), "thinks %s", d);
            ex_msg_add(m, n, e->end, i, EX_NOTE, c, c, text);
        }
        break;
    case EX_ACT:
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_SHOP, ovs_ex_write_what(r));
        if (e->outcome == EX_OK)
            ovs_ex_fmt(text, sizeof(text), "ok%s%s%s", e->detail[0] ? " (" : "", e->detail,
                       e->detail[0] ? ")" : "");
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, c, e->outcome == EX_OK ? text : answer);
        break;
    case EX_RELEASE:
        ovs_ex_fmt(text, sizeof(text), "release %s%s", e->key,
                   ovs_ex_nested(e) ? " (inner)" : "");
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        if (e->outcome == EX_OK && e->nodes > 0)
            ovs_ex_fmt(text, sizeof(text), "ok (%d/%d nodes)", e->nodes_ok, e->nodes);
        else
            ovs_ex_fmt(text, sizeof(text), "%s", e->outcome == EX_OK ? "ok" : answer);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        break;
    case EX_REQUEST:
        if (e->inner) {
            ovs_ex_fmt(text, sizeof(text), "answer: %s", e->detail[0] ? e->detail : "done");
            ex_msg_add(m, n, e->end, i, EX_NOTE, c, c, text);
            break;
        }
        ovs_ex_fmt(text, sizeof(text), "%s %s", r->booking ? "book" : "buy", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        ovs_ex_dur(e->end - e->start, d, sizeof(d));
        ovs_ex_fmt(text, sizeof(text), "%s (%s)",
                   e->outcome == EX_UNKNOWN ? answer : e->detail[0] ? e->detail : "done", d);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, text);
        break;
    case EX_EXECUTE:
        ovs_ex_fmt(text, sizeof(text), "execute %s", e->key);
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK, text);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c, e->outcome == EX_OK ? "ok" : answer);
        break;
    case EX_WRITEBACK: {
        char name[64];
        ovs_ex_name(r, c, name, sizeof(name));
        ovs_ex_fmt(text, sizeof(text), "write-back: %s for %s",
                   r->booking ? "INSERT booking" : "INSERT order", name);
        ex_msg_add(m, n, e->start, i, EX_CALL, EX_LOCK, EX_SHOP, text);
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_SHOP, EX_LOCK,
                   e->outcome == EX_OK ? "ok" : answer);
        break;
    }
    case EX_ANSWER:
        /* The screen is the strategy's answer: asked of it, answered by it. */
        ex_msg_add(m, n, e->start, i, EX_CALL, c, EX_LOCK,
                   r->booking ? "screen: is the room free?" : "screen: in stock?");
        ovs_ex_phrase(r, &one, 0, text, sizeof(text));
        ex_msg_add(m, n, e->end, i, EX_REPLY, EX_LOCK, c,
                   strncmp(text, "screen: ", 8) == 0 ? text + 8 : answer);
        break;
    case EX_FAULT:
    case EX_OTHER:
        ovs_ex_phrase(r, &one, 1, text, sizeof(text));
        ex_msg_add(m, n, e->start, i, EX_NOTE, c >= 0 ? c : EX_LOCK, c >= 0 ? c : EX_SHOP,
                   text);
        break;
    case EX_NODE:
        /* A strategy's own step that no acquire or release folded in (a checkout hold, a
         * payment, an expiry): a note over its client, in its place on the timeline. */
        if (e->folded)
            break;
        ovs_ex_phrase(r, &one, 1, text, sizeof(text));
        ex_msg_add(m, n, e->start, i, EX_NOTE, c >= 0 ? c : EX_LOCK, c >= 0 ? c : EX_LOCK,
                   text);
        break;
    default: /* critical sections are drawn through their acquire */
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

static void ex_mermaid(const ovs_ex_run *r, const ex_msg *m, size_t n, FILE *out)
{
    char name[64], num[32], text[400], last[32] = "";
    const ovs_ex_break *open = NULL;
    int first = r->nids > 0 ? r->ids[0] : EX_LOCK;

    fputs("sequenceDiagram\n", out);
    for (size_t c = 0; c < r->nids; c++) {
        ovs_ex_name(r, r->ids[c], name, sizeof(name));
        fprintf(out, "    participant C%d as ", r->ids[c]);
        ex_mm_text(out, name);
        fputc('\n', out);
    }
    fputs("    participant Lock as Lock (", out);
    ex_mm_text(out, r->strategy);
    fputs(")\n    participant Shop as Shop (SQL)\n", out);
    ovs_ex_fmt(text, sizeof(text), "%s under %s, run %lld, seed %" PRIu64, r->scenario, r->strategy,
               (long long)r->id, r->seed);
    ex_mm_note(out, first, EX_SHOP, text);

    for (size_t k = 0; k < n; k++) {
        const ex_msg *g = &m[k];
        const ovs_ex_break *b = ovs_ex_break_at(r, g->ev);

        /* Times over each request, and over an answer that comes after other steps. */
        if (g->kind == EX_CALL || ((g->kind == EX_REPLY || g->kind == EX_STEP) &&
                                   (k == 0 || m[k - 1].ev != g->ev))) {
            ovs_ex_ms(g->t, num, sizeof(num));
            if (strcmp(num, last) != 0) {
                ovs_ex_fmt(text, sizeof(text), "t=%s ms", num);
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
        ovs_ex_fmt(text, sizeof(text), "verdict: %s, %.*s", r->verdict,
                   (int)strcspn(r->figure, ";"), r->figure);
        ex_mm_note(out, first, EX_SHOP, text);
    }
}

int ovs_explain_mermaid(sqlite3 *results, int64_t run_id, const char *const *client_names,
                        int n_names, FILE *out, char *err, size_t errlen)
{
    ovs_ex_run r;
    ex_msg *m;
    size_t n = 0;
    int ret = -1;

    if (ovs_ex_open(results, run_id, client_names, n_names, &r, err, errlen) < 0)
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
    ovs_ex_run_free(&r);
    return ret;
}
