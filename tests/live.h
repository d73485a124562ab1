/* live.h - shared set-up for tests that need a real redis-server, PostgreSQL or MariaDB.
 *
 * A live test never passes by skipping in CI: when CI=true and no server can be found,
 * the requirement fails the test loudly. Elsewhere it skips with the reason. */
#ifndef OVS_TEST_LIVE_H
#define OVS_TEST_LIVE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra/dbserver.h"
#include "infra/fleet.h"

static inline int ovs_test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci != NULL && strcmp(ci, "true") == 0;
}

/* Call at the top of a live test: returns 1 to go on; otherwise it has already skipped
 * or failed the test and the caller returns. */
#define OVS_REQUIRE_REDIS()                                                                  \
    do {                                                                                     \
        char server_[512];                                                                   \
        if (ovs_redis_server_path(server_, sizeof(server_)) != 0) {                         \
            if (ovs_test_in_ci())                                                            \
                fail_msg("redis-server not found, and CI=true: live tests may not be skipped"); \
            print_message("redis-server not found: skipping live test\n");                  \
            skip();                                                                          \
        }                                                                                    \
    } while (0)

/* The same for a managed database server of kind (infra/dbserver.h). */
#define OVS_REQUIRE_DBSERVER(kind)                                                           \
    do {                                                                                     \
        char why_[512];                                                                      \
        if (ovs_dbserver_available((kind), why_, sizeof(why_)) != OVS_OK) {                  \
            if (ovs_test_in_ci())                                                            \
                fail_msg("%s, and CI=true: live tests may not be skipped", why_);           \
            print_message("%s: skipping live test\n", why_);                                \
            skip();                                                                          \
        }                                                                                    \
    } while (0)

#endif
