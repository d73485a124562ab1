/* optimistic_sql.h - what the strategies that run each request as one SQL transaction of
 * their own share (optimistic_sql.c): the instance (the prepared request, the retries'
 * random waits), the retry parameters, open and close. optimistic-sql and
 * optimistic-sql-exclusion also share its execute, one conditional write per request;
 * sql-serializable has its own, check-think-act at SERIALIZABLE. */
#ifndef OVS_OPTIMISTIC_SQL_H
#define OVS_OPTIMISTIC_SQL_H

#include "locks/sql_request.h"
#include "locks/strategy.h"

typedef struct ovs_osql {
    ovs_strategy base;
    ovs_sqlreq q;
    ovs_rng rng;           /* the retries' waits */
    int book;              /* the booking statement (enum ovs_sqlreq_stmt) xOpen chose;
                              0 (never a booking statement) for the guarded insert */
    int conflict_refuses;  /* 1: a constraint's refusal of the row (OVS_SQLE_CONFLICT) is
                              the answer "taken", not an error; set in xOpen */
} ovs_osql;

#define OVS_OSQL_NPARAMS 3
#define OVS_OSQL_P_RETRY 0 /* ovs_sqlreq_retrying's p_retry: retry_count, then its waits */
extern const ovs_param_spec ovs_osql_params[OVS_OSQL_NPARAMS];

int ovs_osql_open(ovs_strategy *s, const ovs_env *env);
int ovs_osql_execute(ovs_strategy *s, const ovs_request *r, int64_t buyer, int64_t think_ns);
void ovs_osql_close(ovs_strategy *s);
/* xClaims of the strategies that sell with its execute: safe everywhere but bookings on
 * PostgreSQL, where the guarded insert guards nothing (optimistic_sql.c). */
int ovs_osql_claims(const ovs_params *p, const char *backend, enum ovs_workload w);

#endif
