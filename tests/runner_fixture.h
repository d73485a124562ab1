/* runner_fixture.h - a real runner on a real SQLite shop, for the runner's own tests
 * (test_runner.c, test_runner_nest.c, test_runner_answers.c).
 *
 * Each test makes a private directory with the shop in it from a scenario text
 * (rf_shop), runs its strategy through ovs_run, and has the directory removed by the
 * teardown (rf_remove_dir) whether it passed or not. Include after cmocka.h. */
#ifndef OVS_TESTS_RUNNER_FIXTURE_H
#define OVS_TESTS_RUNNER_FIXTURE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/shop.h"
#include "locks/strategy.h"
#include "scenario/scenario.h"

/* The run's private directory; "" when there is none. */
static char rf_dir[64];

static inline int rf_remove_dir(void **state)
{
    static const char *const names[] = { "shop.db", "shop.db-wal", "shop.db-shm" };
    char path[96];

    (void)state;
    if (rf_dir[0] == '\0')
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", rf_dir, names[i]);
        unlink(path);
    }
    int rc = rmdir(rf_dir);
    rf_dir[0] = '\0';
    return rc;
}

/* Parse text (named file in messages) into sc and create its shop in a new private
 * directory, at loc (whose path lives in path, len bytes). Fails the test on error. */
static inline void rf_shop(const char *file, const char *text, ovs_scenario *sc,
                           ovs_shop_loc *loc, char *path, size_t len)
{
    char err[256];

    snprintf(rf_dir, sizeof(rf_dir), "/tmp/oversell-runner.XXXXXX");
    assert_non_null(mkdtemp(rf_dir));
    snprintf(path, len, "%s/shop.db", rf_dir);
    if (ovs_scenario_parse(file, text, sc, err, sizeof(err)) != 0)
        fail_msg("scenario: %s", err);
    ovs_shop_loc_file(loc, path);
    if (ovs_shop_create(loc, sc, err, sizeof(err)) != 0)
        fail_msg("shop: %s", err);
}

/* Open and close for a fake strategy with nothing to connect to. */
static inline int rf_nothing_open(ovs_strategy *s, const ovs_env *env)
{
    (void)s;
    (void)env;
    return OVS_OK;
}

static inline int rf_free_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    return OVS_OK;
}

static inline int rf_free_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    return OVS_OK;
}

static inline void rf_nothing_close(ovs_strategy *s)
{
    (void)s;
}

/* A lock that is always free: every client holds it at once. */
static inline const ovs_strategy_methods *rf_always_free(void)
{
    static const ovs_strategy_methods m = {
        .version = 1,
        .name = "always-free",
        .summary = "a lock that is always free",
        .size = sizeof(ovs_strategy),
        .xOpen = rf_nothing_open,
        .xLock = rf_free_lock,
        .xUnlock = rf_free_unlock,
        .xClose = rf_nothing_close,
    };
    return &m;
}

/* A lock that lets one client in at a time, whatever the key: a process-wide mutex that
 * the holder re-enters for each key of its request (a stay's nights) and leaves as it
 * releases them. For tests whose figures need each buyer to see the last one's sale,
 * which clients a few milliseconds apart do not give on a loaded machine. */
static inline pthread_mutex_t *rf_serial_mutex(void)
{
    static pthread_mutex_t m = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    return &m;
}

static inline int rf_serial_lock(ovs_strategy *s, const char *key)
{
    (void)key;
    s->attempts = 1;
    pthread_mutex_lock(rf_serial_mutex());
    return OVS_OK;
}

static inline int rf_serial_unlock(ovs_strategy *s, const char *key)
{
    (void)s;
    (void)key;
    pthread_mutex_unlock(rf_serial_mutex());
    return OVS_OK;
}

static inline const ovs_strategy_methods *rf_one_at_a_time(void)
{
    static const ovs_strategy_methods m = {
        .version = 1,
        .name = "one-at-a-time",
        .summary = "a lock that lets one client in at a time",
        .size = sizeof(ovs_strategy),
        .xOpen = rf_nothing_open,
        .xLock = rf_serial_lock,
        .xUnlock = rf_serial_unlock,
        .xClose = rf_nothing_close,
    };
    return &m;
}

#endif
