/* explain_model.h - one recorded run as explain_table.c and explain_mermaid.c tell it.
 * Private to reports/explain_*.c; the public API is explain.h.
 *
 * explain_model.c loads a run's events and checks and folds Redlock's node steps into the
 * acquire or release they belong to, explain_breaks.c finds where each broken invariant
 * broke, and explain_words.c says a step in words (and holds the text helpers); each calls
 * only the ones after it. The two renderers lay that out: a time table and a Mermaid
 * diagram. The
 * model is read-only once ovs_ex_open returns, and every text helper here truncates
 * instead of failing, so the renderers fail only on memory and on output. */
#ifndef OVS_EXPLAIN_MODEL_H
#define OVS_EXPLAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/trace.h"

/* Most invariants one run can break that the events place on a step. */
#define EX_MAX_BREAKS 4

/* The recorded ops (enum ovs_op, core/trace.h), and EX_OTHER for a name none of them has. */
enum ovs_ex_op {
    EX_REQUEST = OVS_OP_REQUEST, EX_ACQUIRE = OVS_OP_ACQUIRE, EX_CHECK = OVS_OP_CHECK,
    EX_ACT = OVS_OP_ACT, EX_CRITICAL = OVS_OP_CRITICAL, EX_RELEASE = OVS_OP_RELEASE,
    EX_EXECUTE = OVS_OP_EXECUTE, EX_WRITEBACK = OVS_OP_WRITEBACK, EX_NODE = OVS_OP_NODE,
    EX_FAULT = OVS_OP_FAULT, EX_ANSWER = OVS_OP_ANSWER, EX_OTHER = OVS_OP__COUNT
};

/* The recorded outcomes (enum ovs_outcome). */
enum ovs_ex_outcome {
    EX_OK = OVS_OUT_OK, EX_FAIL = OVS_OUT_FAIL, EX_UNKNOWN = OVS_OUT_UNKNOWN
};

typedef struct ovs_ex_event {
    int64_t start, end;    /* ns since the run's t0 */
    int client;            /* index in the scenario (or buyer); -1 for the harness */
    int op;                /* enum ovs_ex_op */
    int outcome;           /* enum ovs_ex_outcome */
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
} ovs_ex_event;

typedef struct ovs_ex_check {
    char *invariant, *detail;
    long long observed, expected;
    int pass;
} ovs_ex_check;

/* Where an invariant broke, as a step of the table. */
typedef struct ovs_ex_break {
    const char *invariant; /* the check it places */
    size_t ev;          /* the step that broke it */
    int64_t t;          /* when the table shows that step */
    const char *shout;  /* the diagram's note: "double booking!" */
    int with_shop;      /* the note spans to Shop (1) or to Lock (0) */
    char why[200];      /* the rest of the "broke at" sentence */
} ovs_ex_break;

typedef struct ovs_ex_run {
    int64_t id;
    char *scenario, *strategy, *params, *workload, *status, *error, *verdict, *expect;
    char *figure, *description;
    uint64_t seed;
    int booking;                /* workload booking (else inventory) */
    ovs_ex_event *ev;           /* by start, enclosing events first */
    size_t n;
    int *ids;                   /* clients to show, ascending */
    size_t nids;
    const char *const *names;   /* the caller's, by client id */
    int n_names;
    ovs_ex_check *ck;
    size_t nck;
    ovs_ex_break brk[EX_MAX_BREAKS];
    int nbrk;
} ovs_ex_run;

/* Load run_id from db into r and shape it: node steps folded, requests marked when they
 * hold steps, the clients to show collected, the breaks placed. names as in explain.h.
 * On -1 (err says why) r holds nothing to free. */
int ovs_ex_open(sqlite3 *db, int64_t run_id, const char *const *names, int n_names,
                ovs_ex_run *r, char *err, size_t errlen);

/* Free what ovs_ex_open loaded; r is zeroed. */
void ovs_ex_run_free(ovs_ex_run *r);

/* explain_breaks.c, for ovs_ex_open: place every failed check of r the events can place
 * in r->brk. 0, or -1 when out of memory. */
int ovs_ex_find_breaks(ovs_ex_run *r);

/* ---- text (explain_words.c) ------------------------------------------------------- */

/* snprintf that says so: truncation is expected and fine everywhere here. */
void ovs_ex_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy src into dst (cap bytes) with control characters as spaces, cut on a character
 * boundary. NULL copies as "". */
void ovs_ex_copy(char *dst, size_t cap, const char *src);

/* Nanoseconds as milliseconds with one decimal: "150.2". */
void ovs_ex_ms(int64_t ns, char *buf, size_t len);

/* A duration the way a person says it: "0.7 ms", "311 ms", "1.25 s". */
void ovs_ex_dur(int64_t ns, char *buf, size_t len);

/* The name of client id: the caller's, else "client N"; "harness" for id < 0. */
void ovs_ex_name(const ovs_ex_run *r, int id, char *buf, size_t len);

/* The integer right after tag in s ("attempts=2" with tag "attempts="): 1 with *v, or 0
 * when s holds no such number. */
int ovs_ex_num_after(const char *s, const char *tag, long long *v);

/* ---- steps (explain_words.c, explain_model.c, explain_breaks.c) -------------------- */

/* Attempts an acquire made, 0 when not known. */
long long ovs_ex_attempts(const ovs_ex_event *e);

/* The acquire kept its client waiting: shown as two rows, when it began and ended. */
int ovs_ex_slow(const ovs_ex_event *e);

/* When the table shows the step done: the second row of a wait, the answer of a request,
 * else the step's start. */
int64_t ovs_ex_done_time(const ovs_ex_event *e);

/* The column of client among r->ids, or -1 (the harness). */
int ovs_ex_column_of(const ovs_ex_run *r, int client);

/* The think time after check i (the race window): the gap to the same client's next step
 * when that step is its act and the gap is long enough to show, else 0. After a nested
 * acquire i that succeeded, the gap to the inner release: the think spent in the nest. */
int64_t ovs_ex_think_after(const ovs_ex_run *r, size_t i);

/* A step ordered by when it ended: writes in commit order, refusals in answer order. */
typedef struct ovs_ex_write {
    int64_t end, start;
    size_t i;           /* index in r->ev */
} ovs_ex_write;

/* qsort order of ovs_ex_write: end, then start, then index. */
int ovs_ex_cmp_write(const void *a, const void *b);

/* The break placed on event ev, or NULL. */
const ovs_ex_break *ovs_ex_break_at(const ovs_ex_run *r, size_t ev);

/* ---- steps in words (explain_words.c) --------------------------------------------- */

enum ovs_ex_part {
    EX_ONE,    /* the whole step at its start */
    EX_BEGIN,  /* a wait begins */
    EX_END,    /* a wait ends, a request is answered */
    EX_THINK,  /* the gap between a check and its act */
};

/* One row of the table. */
typedef struct ovs_ex_row {
    int64_t t;      /* when */
    size_t seq;     /* tie-break: the order rows were made in */
    size_t ev;      /* the event it tells */
    int part;       /* enum ovs_ex_part */
    int64_t gap;    /* EX_THINK: how long */
} ovs_ex_row;

/* What a write does in SQL: "INSERT booking" or "UPDATE stock, INSERT order". */
const char *ovs_ex_write_what(const ovs_ex_run *r);

/* "→ failed: why" (or "→ unknown: ...") for a step that did not answer ok. */
void ovs_ex_bad(const ovs_ex_event *e, char *buf, size_t len);

/* A busy message from a lock, rather than an error. */
int ovs_ex_busy(const ovs_ex_event *e);

/* An acquire or release of a key its request already held: the inner one of a nest
 * (a scenario's `reenter`, OVS_NESTED in core/trace.h). */
int ovs_ex_nested(const ovs_ex_event *e);

/* The row's text. with_key 0 leaves out the resource name, for narrow columns. */
void ovs_ex_phrase(const ovs_ex_run *r, const ovs_ex_row *row, int with_key, char *buf,
                   size_t len);

#endif
