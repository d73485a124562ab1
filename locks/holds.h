/* holds.h - where a checkout hold lives and what its record says: the one description that
 * the reservation strategy writes by and the harness reads its ground truth by.
 *
 * A hold is one buyer's claim on a unit (inventory) or on every night of a stay (booking)
 * while they pay. In Redis it is a member of the sorted set OVS_HOLDS_ZSET, scored by its
 * expiry in Redis TIME milliseconds, and a hash of the same name as the member,
 * "hold:<buyer>". The member leaves the set in the one script that settles the hold -
 * confirmed, released (compensated) or expired (its unit returned) - so a unit comes back
 * or is sold exactly once. The hash stays after the hold is settled, with its state and
 * the time it was settled: that is the evidence the harness judges late confirms by.
 *
 * Hash fields: buyer, sku (0 for a booking), keys (the stock key, or the night keys,
 * space-separated), created and expires (Redis TIME ms), state (one of the OVS_HOLD_*
 * names below) and, once settled, settled (Redis TIME ms). A confirm that found its hold
 * already expired and sold anyway (confirm_check = 0) also sets late = 1. */
#ifndef OVS_HOLDS_H
#define OVS_HOLDS_H

#include <stdint.h>

#include "core/keys.h"
#include "locks/params.h"
#include "locks/strategy.h"

/* The sorted set of open holds, member = the hold's hash key, score = expiry (ms); under
 * the run's key prefix (ovs_holds_zset_key). */
#define OVS_HOLDS_ZSET "holds"
/* The hash of buyer b's hold is <prefix> OVS_HOLD_PREFIX "<b>" (ovs_hold_key). */
#define OVS_HOLD_PREFIX "hold:"
/* Room for a hold's key or the set's, NUL included, after a key prefix. */
#define OVS_HOLD_KEY_MAX (OVS_KEY_PREFIX_MAX + 32)

/* "<prefix>holds" and "<prefix>hold:<buyer>" into buf; prefix NULL reads as "". */
void ovs_holds_zset_key(const char *prefix, char *buf, size_t len);
void ovs_hold_key(const char *prefix, int64_t buyer, char *buf, size_t len);

/* States of a hold record. */
#define OVS_HOLD_HELD "held"           /* open: the unit is neither on sale nor sold */
#define OVS_HOLD_CONFIRMED "confirmed" /* paid and sold: the order goes to SQL */
#define OVS_HOLD_RELEASED "released"   /* payment failed: the unit was given back */
#define OVS_HOLD_EXPIRED "expired"     /* its TTL ran out: the unit was given back */

/* Where a strategy with parameters p keeps checkout holds. */
enum ovs_holds_where {
    OVS_HOLDS_NONE,  /* it takes no holds: the hold invariants do not apply */
    OVS_HOLDS_REDIS, /* the sorted set and hashes above, on env->redis[0] */
    OVS_HOLDS_SQL,   /* rows of the shop's table holds (locks/holds_sql.h) */
};

/* The clock SQL holds are stamped with and judged by: CLOCK_REALTIME in ms. Every client
 * and the harness are threads of one process, so they all read this one clock. */
int64_t ovs_holds_clock_ms(void);

/* Where m keeps its holds with parameters p: OVS_HOLDS_NONE for every strategy but
 * reservation, else what its `holds` parameter says. */
enum ovs_holds_where ovs_holds_of(const ovs_strategy_methods *m, const ovs_params *p);
/* The TTL of m's holds with p, in ms; 0 when it takes none. */
double ovs_holds_ttl_ms(const ovs_strategy_methods *m, const ovs_params *p);

#endif
