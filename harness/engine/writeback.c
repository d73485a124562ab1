/* writeback.c - the write-back worker: a queue of sold requests applied to SQL.
 *
 * One mutex and one condition variable guard the queue; the worker holds the mutex only
 * to look at and pop the head, never while writing to SQL, so buyers pushing sales never
 * wait on the database. Items are applied in push order, each no earlier than its due
 * time; an item stays in the queue until it is due. */
#include "engine/writeback.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/shop.h"
#include "core/util.h"

#define WB_BATCH 256 /* orders applied per transaction, at most */

typedef struct wb_item {
    ovs_request req;
    int64_t buyer;
    int64_t due_ns; /* monotonic time before which it must not be applied */
} wb_item;

struct ovs_writeback {
    pthread_t thread;
    int started;          /* the thread exists and must be joined */
    pthread_mutex_t mu;   /* guards everything below */
    pthread_cond_t cv;    /* signalled on push and on stop */
    wb_item *items;       /* ring of cap items */
    size_t head, count, cap;
    int stopping;         /* drain requested: apply what is queued, then exit */
    int held;             /* ovs_writeback_hold: take no item while set */
    int in_flight;        /* popped, not yet applied (a batch) */
    int failures;         /* items that could not be applied */
    int64_t delay_ns;
    enum ovs_workload workload;
    ovs_shop *shop;       /* the worker's own connection; used only by the worker */
    ovs_trace trace;      /* the worker's events; read only after join */
};

static void *wb_main(void *arg)
{
    ovs_writeback *wb = arg;
    char err[160];

    pthread_mutex_lock(&wb->mu);
    for (;;) {
        while ((wb->count == 0 && !wb->stopping) || wb->held)
            pthread_cond_wait(&wb->cv, &wb->mu);
        if (wb->count == 0 && wb->stopping)
            break;
        /* Wait for the head item's due time without taking it, so a holder (reconciling
         * after a crash) sees it as still queued rather than half applied. */
        int64_t due = wb->items[wb->head].due_ns;
        if (ovs_now_ns() < due) {
            struct timespec ts = { .tv_sec = due / OVS_NS_PER_S, .tv_nsec = due % OVS_NS_PER_S };
            pthread_cond_timedwait(&wb->cv, &wb->mu, &ts);
            continue;
        }
        /* Take every item already due, up to a batch, and apply them in one transaction:
         * one commit per batch instead of one per order keeps the queue ahead of the
         * buyers. Each order still has its own savepoint inside, so one that fails is
         * rolled back alone. */
        wb_item batch[WB_BATCH];
        int n = 0;
        int64_t now = ovs_now_ns();
        while (n < WB_BATCH && wb->count > 0 && wb->items[wb->head].due_ns <= now) {
            batch[n++] = wb->items[wb->head];
            wb->head = (wb->head + 1) % wb->cap;
            wb->count--;
        }
        wb->in_flight = n;
        pthread_mutex_unlock(&wb->mu);

        int failed = 0;
        int64_t t = ovs_now_ns();
        ovs_shopdb *db = ovs_shop_db(wb->shop);
        int in_tx = db->m->xBegin(db, OVS_ISO_DEFAULT) == OVS_OK;
        for (int k = 0; k < n; k++) {
            const wb_item *it = &batch[k];
            int rc = ovs_shop_act(wb->shop, wb->workload, &it->req, it->buyer, NULL, err,
                                  sizeof(err));
            char key[OVS_KEY_MAX];
            if (wb->workload == OVS_INVENTORY)
                snprintf(key, sizeof(key), "sku:%d", it->req.sku);
            else
                snprintf(key, sizeof(key), "room:%d:%d", it->req.hotel, it->req.room);
            int64_t end = ovs_now_ns();
            ovs_trace_add(&wb->trace, (int)it->buyer, OVS_OP_WRITEBACK, key, t, end,
                          rc == OVS_OK ? OVS_OUT_OK : OVS_OUT_FAIL, rc == OVS_OK ? NULL : err);
            t = end;
            failed += rc != OVS_OK;
        }
        if (in_tx && db->m->xCommit(db) != OVS_OK) {
            /* Nothing of the batch reached SQL. */
            db->m->xRollback(db);
            failed = n;
        }

        pthread_mutex_lock(&wb->mu);
        wb->in_flight = 0;
        wb->failures += failed;
        pthread_cond_broadcast(&wb->cv); /* a holder may be waiting for in_flight == 0 */
    }
    pthread_mutex_unlock(&wb->mu);
    return NULL;
}

int ovs_writeback_start(ovs_writeback **out, const ovs_shop_loc *shop, enum ovs_workload w,
                        int64_t delay_ns, char *err, size_t errlen)
{
    ovs_writeback *wb = calloc(1, sizeof(*wb));

    *out = NULL;
    if (wb == NULL) {
        ovs_seterr(err, errlen, "out of memory");
        return -1;
    }
    wb->cap = 1024;
    wb->items = malloc(wb->cap * sizeof(*wb->items));
    wb->delay_ns = delay_ns;
    wb->workload = w;
    pthread_mutex_init(&wb->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* due times are monotonic */
    pthread_cond_init(&wb->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (wb->items == NULL || ovs_shop_open(shop, &wb->shop, err, errlen) != 0) {
        if (wb->items == NULL)
            ovs_seterr(err, errlen, "out of memory");
        ovs_writeback_free(wb);
        return -1;
    }
    if (pthread_create(&wb->thread, NULL, wb_main, wb) != 0) {
        ovs_seterr(err, errlen, "cannot start the write-back thread");
        ovs_writeback_free(wb);
        return -1;
    }
    wb->started = 1;
    *out = wb;
    return 0;
}

int ovs_writeback_push(ovs_writeback *wb, const ovs_request *r, int64_t buyer)
{
    int rc = 0;

    pthread_mutex_lock(&wb->mu);
    if (wb->stopping) {
        rc = -1;
    } else {
        if (wb->count == wb->cap) {
            /* Grow the ring, unrolling it so head is 0 again. */
            size_t ncap = wb->cap * 2;
            wb_item *n = malloc(ncap * sizeof(*n));
            if (n == NULL) {
                pthread_mutex_unlock(&wb->mu);
                return -1;
            }
            for (size_t i = 0; i < wb->count; i++)
                n[i] = wb->items[(wb->head + i) % wb->cap];
            free(wb->items);
            wb->items = n;
            wb->head = 0;
            wb->cap = ncap;
        }
        wb_item *it = &wb->items[(wb->head + wb->count) % wb->cap];
        it->req = *r;
        it->buyer = buyer;
        it->due_ns = ovs_now_ns() + wb->delay_ns;
        /* Only an empty queue has a worker waiting for work: with items queued it is
         * applying them or waiting for the head's due time, which comes first anyway. A
         * wake-up per sale would cost the buyers more than the sale itself. */
        if (wb->count++ == 0)
            pthread_cond_broadcast(&wb->cv);
    }
    pthread_mutex_unlock(&wb->mu);
    return rc;
}

int ovs_writeback_sold(void *wb, const ovs_request *r, int64_t buyer)
{
    return ovs_writeback_push(wb, r, buyer);
}

int ovs_writeback_pending_sku(ovs_writeback *wb, int sku)
{
    int n = 0;
    pthread_mutex_lock(&wb->mu);
    for (size_t i = 0; i < wb->count; i++)
        n += wb->items[(wb->head + i) % wb->cap].req.sku == sku;
    pthread_mutex_unlock(&wb->mu);
    return n;
}

void ovs_writeback_hold(ovs_writeback *wb, int hold)
{
    pthread_mutex_lock(&wb->mu);
    wb->held = hold;
    if (hold)
        while (wb->in_flight)
            pthread_cond_wait(&wb->cv, &wb->mu);
    pthread_cond_broadcast(&wb->cv);
    pthread_mutex_unlock(&wb->mu);
}

int ovs_writeback_drain(ovs_writeback *wb)
{
    if (!wb->started)
        return wb->failures;
    pthread_mutex_lock(&wb->mu);
    wb->stopping = 1;
    wb->held = 0;
    pthread_cond_broadcast(&wb->cv);
    pthread_mutex_unlock(&wb->mu);
    pthread_join(wb->thread, NULL);
    wb->started = 0;
    return wb->failures;
}

ovs_trace *ovs_writeback_trace(ovs_writeback *wb)
{
    return &wb->trace;
}

void ovs_writeback_free(ovs_writeback *wb)
{
    if (wb == NULL)
        return;
    if (wb->started)
        ovs_writeback_drain(wb);
    ovs_shop_close(wb->shop);
    ovs_trace_free(&wb->trace);
    free(wb->items);
    pthread_cond_destroy(&wb->cv);
    pthread_mutex_destroy(&wb->mu);
    free(wb);
}
