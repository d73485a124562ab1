/* test_strategy_def.c - the definition-file loader, the registry's origins, and the Lua
 * files that must stay the built-in's scripts.
 *
 * Pure logic, no servers: each bad definition is refused at the line that is wrong, with
 * the reason; a good one fills the struct as strategy_def.h says; a program that is not
 * installed makes a definition unavailable, not wrong; a name clash names the taker's
 * origin. And strategies/lua/decr.lua and claim.lua are lua-decr's own scripts, token for
 * token, so that lua-decr-script's verdicts say something about the built-in's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "locks/redis_stock.h"
#include "locks/strategy.h"
#include "locks/strategy_def.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ovs-def-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    FILE *f;
    char path[512];
    snprintf(path, sizeof(path), "%s/a.lua", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs("return 1\n", f);
    fclose(f);
    return 0;
}

static int remove_dir(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_def(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define LUA_HEAD "[strategy]\nname = t\nkind = lua\nsummary = s\nclaims_safe = yes\n"
#define ADAPTER_HEAD "[strategy]\nname = t\nkind = adapter\nsummary = s\nclaims_safe = no\n"
#define TTL "[param ttl]\ndefault = 200\nunit = ms\nhelp = h\n"

static const struct {
    const char *text;
    int line;          /* expected in "path:line:", 0 for "path:" */
    const char *why;   /* expected in the message */
} bad[] = {
    { LUA_HEAD "execute = a.lua\nfrobnicate = 1\n", 7, "unknown key 'frobnicate'" },
    { LUA_HEAD "execute = missing.lua\n", 6, "cannot read script" },
    { LUA_HEAD "execute = a.lua\ncommand = node x.js\n", 7, "'command' is a key of adapter" },
    { LUA_HEAD "execute = a.lua\n[params ttl]\n", 7, "unknown section [params ttl]" },
    { LUA_HEAD "acquire = a.lua\n", 6, "needs both acquire and release" },
    { LUA_HEAD "acquire = a.lua\nrelease = a.lua\n", 6, "needs a [param ttl]" },
    { LUA_HEAD "execute = a.lua\nnodes = 2\n", 7, "runs on one Redis" },
    { LUA_HEAD "execute = a.lua\noperation = lock\n", 7, "the scripts make it a whole" },
    { LUA_HEAD "execute = a.lua\n" TTL "max = 100\n", 7, "[param ttl]" },
    { LUA_HEAD "execute = a.lua\n[param ttl]\ndefault = 1\nunit = ms\n", 7, "no 'help'" },
    { LUA_HEAD "execute = a.lua\n[param x]\ndefault = b\nchoices = a|c\nhelp = h\n", 8,
      "not one of a|c" },
    { LUA_HEAD "execute = a.lua\n" TTL "unit = ms\n", 11, "duplicate key 'unit'" },
    { "[strategy]\nname = Bad_Name\nkind = lua\nsummary = s\nclaims_safe = yes\n"
      "execute = a.lua\n", 2, "not a strategy name" },
    { "[strategy]\nkind = lua\nsummary = s\nclaims_safe = yes\nexecute = a.lua\n", 1,
      "no 'name'" },
    { LUA_HEAD "claims_safe = maybe\n", 6, "duplicate key 'claims_safe'" },
    { "[strategy]\nname = t\nkind = java\n", 3, "not adapter or lua" },
    { ADAPTER_HEAD "operation = lock\n", 1, "no 'command'" },
    { ADAPTER_HEAD "operation = lock\ncommand = sh\nexecute = a.lua\n", 8,
      "'execute' is a key of lua" },
    { ADAPTER_HEAD "operation = lock\ncommand = sh\nshop = own\n", 8, "shop is for whole" },
    { ADAPTER_HEAD "operation = whole\ncommand = sh\nnodes = n\n", 8, "neither a number" },
    { ADAPTER_HEAD "operation = whole\ncommand = sh\ntimeout = soon\n", 8,
      "not a duration" },
    { ADAPTER_HEAD "operation = lock\ncommand = sh lib/missing.js\n", 7, "missing.js" },
    { ADAPTER_HEAD "operation = lock\ncommand = sh\nkey_prefix = mostly\n", 8,
      "key_prefix: 'mostly' is not yes or no" },
    { LUA_HEAD "execute = a.lua\nkey_prefix = yes\n", 7, "'key_prefix' is a key of adapter" },
    { "name = t\n", 1, "outside any section" },
    { "[strategy]\nthis is not ini\n", 2, "expected 'key = value'" },
    { "", 0, "no [strategy] section" },
};

static void test_bad_definitions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[512], err[600], want[560];
        ovs_strategy_def def;
        write_def("bad.ini", bad[i].text, path, sizeof(path));
        if (ovs_strategy_def_load(path, &def, err, sizeof(err)) == 0)
            fail_msg("case %zu loaded:\n%s", i, bad[i].text);
        if (bad[i].line)
            snprintf(want, sizeof(want), "%s:%d: ", path, bad[i].line);
        else
            snprintf(want, sizeof(want), "%s: ", path);
        if (strncmp(err, want, strlen(want)) != 0 || strstr(err, bad[i].why) == NULL)
            fail_msg("case %zu: wanted '%s...%s', got '%s'", i, want, bad[i].why, err);
    }
}

static void test_good_definitions(void **state)
{
    char path[512], err[600];
    ovs_strategy_def def;

    (void)state;
    write_def("lock.ini", LUA_HEAD "acquire = a.lua\nrelease = ./a.lua\n" TTL
              "min = 1\nmax = 10s\n[param mode]\ndefault = b\nchoices = a|b\nhelp = which\n",
              path, sizeof(path));
    if (ovs_strategy_def_load(path, &def, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(def.kind, OVS_DEF_LUA);
    assert_int_equal(def.operation, OVS_DEF_LOCK);
    assert_string_equal(def.name, "t");
    assert_int_equal(def.claims_safe, 1);
    assert_int_equal(def.nodes, 1);
    assert_int_equal(def.n_params, 2);
    assert_string_equal(def.params[0].name, "ttl");
    assert_true(def.params[0].def == 200 && def.params[0].min == 1 &&
                def.params[0].max == 10000);
    assert_int_equal((int)def.params[1].def, 1);
    assert_string_equal(def.params[1].choices, "a|b");
    assert_true(def.acquire[0] == '/' && strstr(def.acquire, "/a.lua") != NULL);
    assert_true(def.release[0] == '/');
    assert_string_equal(def.execute, "");
    assert_string_equal(def.unavailable, "");
    ovs_strategy_def_free(&def);

    /* An adapter: the command split, a relative argument taken from the file's directory,
     * the program looked up on PATH; one that is not there makes it unavailable only. */
    write_def("ad.ini", ADAPTER_HEAD "operation = whole\nshop = own\ntimeout = 2s\n"
              "nodes = n\ncommand = sh a.lua/../a.lua -x\n"
              "[param n]\ndefault = 3\nunit = count\nmax = 5\nhelp = nodes\n",
              path, sizeof(path));
    if (ovs_strategy_def_load(path, &def, err, sizeof(err)) == 0)
        fail_msg("a path through a file should not resolve");
    write_def("ad.ini", ADAPTER_HEAD "operation = whole\nshop = own\ntimeout = 2s\n"
              "nodes = n\ncommand = sh ./a.lua -x\n"
              "[param n]\ndefault = 3\nunit = count\nmax = 5\nhelp = nodes\n",
              path, sizeof(path));
    if (ovs_strategy_def_load(path, &def, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(def.kind, OVS_DEF_ADAPTER);
    assert_int_equal(def.operation, OVS_DEF_WHOLE);
    assert_int_equal(def.shop, OVS_DEF_SHOP_OWN);
    assert_true(def.timeout_ms == 2000);
    assert_string_equal(def.nodes_param, "n");
    assert_int_equal(def.argc, 3);
    assert_true(def.argv[0][0] == '/' && strstr(def.argv[0], "sh") != NULL);
    assert_true(def.argv[1][0] == '/' && strstr(def.argv[1], "/a.lua") != NULL);
    assert_string_equal(def.argv[2], "-x");
    assert_string_equal(def.unavailable, "");
    ovs_strategy_def_free(&def);

    /* A word without a '/' is passed as it is (PROTOCOL.md says so): relative to where
     * oversell runs, not to the file, so the docs tell users to write ./a.lua. */
    write_def("ad.ini", ADAPTER_HEAD "operation = lock\ncommand = sh a.lua\n", path,
              sizeof(path));
    if (ovs_strategy_def_load(path, &def, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(def.argc, 2);
    assert_string_equal(def.argv[1], "a.lua");
    ovs_strategy_def_free(&def);

    write_def("ad.ini", ADAPTER_HEAD "operation = lock\n\ncommand = no-such-program-here x\n",
              path, sizeof(path));
    if (ovs_strategy_def_load(path, &def, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    char want[600];
    snprintf(want, sizeof(want), "%s:8: 'no-such-program-here' not found on PATH", path);
    assert_string_equal(def.unavailable, want);
    ovs_strategy_def_free(&def);
}

/* Registered definitions carry their origin; a second of one name is refused at the line
 * of its name, naming the first one's origin. */
static void test_register_and_clash(void **state)
{
    char path[512], err[600], want[600];
    const ovs_strategy_methods *m;

    (void)state;
    write_def("w.ini", "[strategy]\nname = def-test-whole\nkind = lua\nsummary = s\n"
              "claims_safe = no\nexecute = a.lua\n", path, sizeof(path));
    if (ovs_strategy_def_register(path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    m = ovs_strategy_find("def-test-whole");
    assert_non_null(m);
    snprintf(want, sizeof(want), "file %s", path);
    assert_string_equal(ovs_strategy_origin(m), want);
    assert_null(ovs_strategy_unavailable(m));
    assert_non_null(m->xExecute);
    assert_int_equal(OVS_STRATEGY_FIELD(m, redis_stock, 0), 1);
    assert_string_equal(ovs_strategy_origin(&ovs_strategy_setnx), OVS_ORIGIN_BUILTIN);

    write_def("c.ini", "; a clash\n[strategy]\nkind = lua\nsummary = s\nclaims_safe = no\n"
              "name = setnx\nexecute = a.lua\n", path, sizeof(path));
    assert_int_equal(ovs_strategy_def_register(path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:6: ", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_non_null(strstr(err, "already registered (built-in)"));
    assert_ptr_equal(ovs_strategy_find("setnx"), &ovs_strategy_setnx);
}

/* Lua text with its comment lines dropped and every run of white space made one blank. */
static void normalise(const char *in, char *out, size_t len)
{
    size_t n = 0;
    int at_line_start = 1, blank = 0;

    for (const char *p = in; *p && n + 2 < len; p++) {
        if (at_line_start) {
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (q[0] == '-' && q[1] == '-') {
                while (*q && *q != '\n')
                    q++;
                p = *q ? q : q - 1;
                blank = 1;
                continue;
            }
        }
        at_line_start = *p == '\n';
        if (*p == ' ' || *p == '\t' || *p == '\n') {
            blank = 1;
            continue;
        }
        if (blank && n > 0)
            out[n++] = ' ';
        blank = 0;
        out[n++] = *p;
    }
    out[n] = '\0';
}

static void same_script(const char *file, const char *builtin)
{
    char path[600], text[8192], a[8192], b[8192];
    snprintf(path, sizeof(path), "%s/strategies/lua/%s", OVS_SOURCE_DIR, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    normalise(text, a, sizeof(a));
    normalise(builtin, b, sizeof(b));
    if (strcmp(a, b) != 0)
        fail_msg("%s is not the built-in's script:\n  file:     %s\n  built-in: %s", path, a,
                 b);
}

static void test_lua_files_are_the_builtins(void **state)
{
    (void)state;
    same_script("decr.lua", ovs_redis_stock_decr_src);
    same_script("claim.lua", ovs_redis_stock_claim_src);
    same_script("decr-stream.lua", ovs_redis_stock_decr_stream_src);
    /* The comparison itself can fail: a changed token is seen. */
    char a[256], b[256];
    normalise("return 1 -- x\n", a, sizeof(a));
    normalise("return  2", b, sizeof(b));
    assert_string_not_equal(a, b);
}

/* The shipped definitions load, register, and say where they came from. */
static void test_shipped_definitions(void **state)
{
    char sdir[600], err[600];
    (void)state;
    snprintf(sdir, sizeof(sdir), "%s/strategies", OVS_SOURCE_DIR);
    int n = ovs_strategy_defs_register_dir(sdir, err, sizeof(err));
    if (n < 0)
        fail_msg("%s", err);
    const ovs_strategy_methods *m = ovs_strategy_find("lua-decr-script");
    assert_non_null(m);
    assert_non_null(strstr(ovs_strategy_origin(m), "strategies/lua-decr-script.ini"));
    assert_int_equal(m->claims_safe, 1);
    /* The shipped adapters keep to the run's key prefix and log in: they run on --redis. */
    const char *const prefixed[] = { "python-setnx", "node-redlock", "node-redlock-using" };
    for (size_t i = 0; i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
        m = ovs_strategy_find(prefixed[i]);
        assert_non_null(m);
        assert_int_equal(OVS_STRATEGY_FIELD(m, no_key_prefix, 1), 0);
    }
    m = ovs_strategy_find("lua-setnx");
    assert_non_null(m);
    assert_non_null(m->xLock);
    assert_int_equal(m->n_params, ovs_strategy_setnx.n_params);
    for (int i = 0; i < m->n_params; i++) {
        assert_string_equal(m->params[i].name, ovs_strategy_setnx.params[i].name);
        assert_true(m->params[i].def == ovs_strategy_setnx.params[i].def);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_definitions),
        cmocka_unit_test(test_good_definitions),
        cmocka_unit_test(test_register_and_clash),
        cmocka_unit_test(test_lua_files_are_the_builtins),
        cmocka_unit_test(test_shipped_definitions),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
