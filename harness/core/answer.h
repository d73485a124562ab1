/* answer.h - a screen's answer and the database's truth around it: the one definition of
 * a stale answer, for the runner that records answers, the checker that counts them and
 * the reports that show them.
 *
 * Before a request the runner asks the strategy what the shop's screen shows (xAvailable,
 * locks/strategy.h): the units in stock, or 1 free / 0 taken for a stay. It reads the
 * truth in SQL just before and just after that call. During a run stock only goes down
 * and a stay only goes from free to taken, so the truth at every instant of the call lay
 * in [after, before]: an answer outside it was wrong at every one of those instants (a
 * stale answer), and one inside it was right at one of them at least. No false positive:
 * an answer read straight from SQL during the call is never counted. */
#ifndef OVS_ANSWER_H
#define OVS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

/* The check row that counts stale answers. It is a figure beside the verdict, not part of
 * it: a wrong screen is not a double booking, and a strategy can be safe and still show
 * stale screens. */
#define OVS_STALE_ANSWERS "stale_answers"

/* One recorded answer: what the screen said and the truth in SQL around it. */
typedef struct ovs_answer {
    int64_t answer; /* units shown (inventory), or 1 free / 0 taken (booking) */
    int64_t before; /* the same measure in SQL just before the call */
    int64_t after;  /* ... and just after it */
} ovs_answer;

/* 1 when a contradicted the database at every instant of its call. */
static inline int ovs_answer_stale(const ovs_answer *a)
{
    return a->answer > a->before || a->answer < a->after;
}

/* 1 when a screen said none (sold out, taken) while SQL had some throughout the call:
 * the buyer left, a sale lost to the screen. A stale answer too. */
static inline int ovs_answer_lost_sale(const ovs_answer *a)
{
    return a->answer == 0 && a->after > 0;
}

/* 1 when a screen said some while SQL had none throughout the call: the buyer went on to
 * a checkout that could only refuse. A stale answer too. */
static inline int ovs_answer_dead_end(const ovs_answer *a)
{
    return a->answer > 0 && a->before == 0;
}

/* How the runner words the shop's refusal of a request in its request event, the one
 * spelling the checker reads back (an answer outdated before its request). */
#define OVS_SAID_SOLD_OUT "sold out"
#define OVS_SAID_TAKEN "room taken"
/* ... and the other ways a buyer is turned away without an error, which the lost sales
 * figure reads back (engine/liveness.h): a screen that said none before trying, a token
 * the shop refused as stale, a lock given up on. Any other failed request is an error. */
#define OVS_SAID_LEFT_SOLD_OUT "left: the screen said sold out"
#define OVS_SAID_LEFT_TAKEN "left: the screen said taken"
#define OVS_SAID_STALE "refused: stale token"
#define OVS_SAID_BUSY "gave up: busy"
/* A refusal that is the buyer's, not the shop's: the payment provider said no. A strategy
 * gives it as the errstr of its OVS_REFUSED (locks/reservation.c), the runner words the
 * request so, and it is no lost sale: the buyer could not pay, and the unit went back. */
#define OVS_SAID_DECLINED "payment declined"

/* The answer as an answer event's detail: "answer=3 truth=4..3" (before..after). The
 * one format, read back by ovs_answer_parse. */
void ovs_answer_format(const ovs_answer *a, char *buf, size_t len);
/* An answer event's detail back: 0 with *a, or -1 when detail is not one. */
int ovs_answer_parse(const char *detail, ovs_answer *a);

/* 1 when the check row named invariant is a figure beside the verdict (stale answers)
 * rather than part of it: the cell leaves it out of safe/unsafe, the reports show it as
 * a figure. */
int ovs_check_is_figure(const char *invariant);

#endif
