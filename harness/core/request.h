/* request.h - what a client asks of the shop, the one vocabulary every layer shares:
 * the scenario reads requests from files, strategies serve them, the engine checks and
 * records them. Kept in core so that a strategy needs no scenario to know what it serves. */
#ifndef OVS_REQUEST_H
#define OVS_REQUEST_H

/* Nights in one booking request, at most. Under `lock = night` the runner takes one lock
 * per night, into a fixed-size key array; the scenario parser refuses longer stays, and
 * every strategy that keeps one entry per night sizes it from this and refuses a stay
 * beyond it as a broken request, not a booking. */
#define OVS_MAX_NIGHTS 64

/* Longest resource key, NUL included: the lock keys the runner derives from a request
 * ("sku:<id>", "hotel:<hotel>:night:<YYYY-MM-DD>": ovs_request_keys in engine/runner.h),
 * which the events name (core/trace.h) and a lock strategy keeps as it was given. */
#define OVS_KEY_MAX 46

enum ovs_workload {
    OVS_INVENTORY, /* skus(id, stock) and orders: a purchase takes one unit */
    OVS_BOOKING,   /* bookings with half-open date ranges: a stay takes its room-nights */
};

/* Which lock key a booking takes (a scenario's `lock =`). */
enum ovs_granularity {
    OVS_GRAN_HOTEL,   /* hotel:<hotel> */
    OVS_GRAN_CHECKIN, /* hotel:<hotel>:<check_in> */
    OVS_GRAN_NIGHT,   /* hotel:<hotel>:night:<date>, one lock per night of the stay, taken
                         in sorted order */
};

/* One request a client makes. Inventory uses sku; booking uses hotel, room and dates. */
typedef struct ovs_request {
    int sku;       /* inventory: the SKU bought (1-based) */
    int hotel;     /* booking: hotel id */
    int room;      /* booking: room number */
    int check_in;  /* booking: first night, days since 1970-01-01 */
    int check_out; /* booking: day of departure (exclusive), > check_in */
} ovs_request;

#endif
