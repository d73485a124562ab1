/* optimistic_sql_exclusion.c - optimistic-sql with PostgreSQL's exclusion constraint as the
 * backstop for bookings.
 *
 * optimistic-sql's guarded insert (INSERT ... WHERE NOT EXISTS an overlapping stay) reads
 * a snapshot on PostgreSQL and locks nothing that does not exist yet, so two guests who
 * insert at once both get the room. Here the schema says what the statement cannot: no
 * two confirmed bookings of one room may have overlapping nights,
 *
 *     EXCLUDE USING gist (int4range(hotel, hotel, '[]') WITH &&,
 *                         int4range(room, room, '[]') WITH &&,
 *                         textrange(check_in, check_out) WITH &&)
 *         WHERE (status = 'confirmed')
 *
 * added to the run's bookings table before any client starts (xPrepare). A booking is
 * then one INSERT ... ON CONFLICT DO NOTHING, which takes every unique and exclusion
 * constraint as its arbiter: a stay that overlaps a confirmed one, committed or still in
 * flight (the insert waits for that transaction's end), inserts nothing, and the guest
 * is told the room is taken. An insert that only the constraint checks (the guarded
 * insert included: its NOT EXISTS does not see rows in flight) is as safe but deadlocks:
 * two guests who insert at once each wait for the other's row, and PostgreSQL breaks the
 * cycle only after deadlock_timeout (a second), again and again under a burst (a 12-guest
 * burst took from 0.3 s to 113 s); ON CONFLICT's speculative insertion
 * backs out of its own row instead of waiting on a waiter. An exclusion_violation
 * (23P01) all the same is the same answer. textrange is a range
 * type over text with the "C" collation, in which ISO dates sort as days do, so the
 * half-open [check_in, check_out) overlaps exactly where two stays share a night (the
 * rule engine/shop.c applies); int4range turns the equality on hotel and room into
 * overlap, which GiST indexes without the btree_gist extension.
 *
 * Inventory is optimistic-sql's guarded decrement, unchanged. PostgreSQL only. */
#include "locks/optimistic_sql.h"

static const char *const exclusion_ddl[] = {
    "CREATE TYPE textrange AS RANGE (subtype = text, collation = \"C\")",
    "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist ("
    " int4range(hotel, hotel, '[]') WITH &&, int4range(room, room, '[]') WITH &&,"
    " textrange(check_in, check_out) WITH &&) WHERE (status = 'confirmed')",
};

static int osqx_prepare(ovs_strategy *s, const ovs_env *env)
{
    if (env->workload != OVS_BOOKING)
        return OVS_OK;
    if (env->shop == NULL)
        return ovs_strategy_fail(s, OVS_ERR, "%s needs the shop to add its constraint",
                                 s->m->name);
    for (size_t i = 0; i < sizeof(exclusion_ddl) / sizeof(exclusion_ddl[0]); i++)
        if (env->shop->m->xExec(env->shop, exclusion_ddl[i]) != OVS_OK)
            return ovs_strategy_fail(s, OVS_ERR, "the exclusion constraint: %.150s",
                                     env->shop->errstr);
    return OVS_OK;
}

static int osqx_open(ovs_strategy *s, const ovs_env *env)
{
    ((ovs_osql *)s)->book = OVS_SQLREQ_BOOK_OR_NOTHING;
    ((ovs_osql *)s)->conflict_refuses = 1;
    return ovs_osql_open(s, env);
}

const ovs_strategy_methods ovs_strategy_optimistic_sql_exclusion = {
    .version = 3,
    .name = "optimistic-sql-exclusion",
    .summary = "optimistic-sql with an exclusion constraint on bookings (no two confirmed"
               " stays of a room overlap) as the backstop: PostgreSQL",
    .claims_safe = 1,
    .backends = "postgresql",
    .size = sizeof(ovs_osql),
    .params = ovs_osql_params,
    .n_params = OVS_OSQL_NPARAMS,
    .xPrepare = osqx_prepare,
    .xOpen = osqx_open,
    .xExecute = ovs_osql_execute,
    .xClose = ovs_osql_close,
};
