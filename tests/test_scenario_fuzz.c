/* test_scenario_fuzz.c - the scenario parser against seeded mutations of the shipped files.
 *
 * A deterministic fuzzer that runs in every build of the suite (and so under ASan, UBSan
 * and TSan in CI): byte flips, insertions, deletions, duplicated and dropped lines, and
 * spliced lines from another file. Each mutant must either parse and resolve (as the
 * command line takes a file) or be refused with a message that starts with its path and,
 * when it names a line, a line that exists. A crash, a leak or a message without a
 * location fails. OVS_FUZZ_ITERATIONS and OVS_FUZZ_SEED vary the run; the seed is printed
 * on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "locks/strategy_def.h"
#include "engine/plan.h"
#include "scenario/scenario.h"
#include "core/util.h"

#ifndef OVS_SOURCE_DIR
#include "ovs_config.h"
#endif

#define MAX_TEXT 65536
#define MAX_FILES 64

/* The shipped scenario files, in a stable order. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(MAX_TEXT) : NULL;
    *len = buf ? fread(buf, 1, MAX_TEXT - 1, f) : 0;
    if (f)
        fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

static int count_lines(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* One mutation of buf (length *len, capacity MAX_TEXT) drawn from rng. */
static void mutate(ovs_rng *rng, char *buf, size_t *len, const char *donor, size_t donor_len)
{
    static const char alphabet[] = "[]=;#:.,-/ \t\nabcdefghijklmnopqrstuvwxyz0123456789"
                                   "\xef\xbb\xbf\x01\x7f\xff";
    size_t at = *len ? (size_t)ovs_rng_below(rng, *len) : 0;

    switch (ovs_rng_below(rng, 6)) {
    case 0: /* flip a byte */
        if (*len)
            buf[at] = (char)ovs_rng_below(rng, 256);
        break;
    case 1: /* insert a byte from the alphabet */
        if (*len + 1 < MAX_TEXT) {
            memmove(buf + at + 1, buf + at, *len - at);
            buf[at] = alphabet[ovs_rng_below(rng, sizeof(alphabet) - 1)];
            (*len)++;
        }
        break;
    case 2: { /* delete a run */
        size_t n = (size_t)ovs_rng_below(rng, 16) + 1;
        if (at + n > *len)
            n = *len - at;
        memmove(buf + at, buf + at + n, *len - at - n);
        *len -= n;
        break;
    }
    case 3: { /* duplicate a line */
        char *s = buf + at;
        while (s > buf && s[-1] != '\n')
            s--;
        char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) + 1 : strlen(s);
        if (*len + n < MAX_TEXT) {
            memmove(s + n, s, (size_t)(buf + *len - s));
            *len += n;
        }
        break;
    }
    case 4: { /* splice a line from another scenario */
        size_t from = donor_len ? (size_t)ovs_rng_below(rng, donor_len) : 0;
        const char *s = donor + from;
        while (s > donor && s[-1] != '\n')
            s--;
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) + 1 : strlen(s);
        if (*len + n < MAX_TEXT) {
            memmove(buf + at + n, buf + at, *len - at);
            memcpy(buf + at, s, n);
            *len += n;
        }
        break;
    }
    default: /* a number made huge, negative or odd */
        if (*len + 24 < MAX_TEXT) {
            static const char *const odd[] = { "99999999999999999999", "-1", "0", "1e309",
                                               "nan", "1.5", "..", "0ms..0ms" };
            const char *o = odd[ovs_rng_below(rng, sizeof(odd) / sizeof(odd[0]))];
            size_t n = strlen(o);
            memmove(buf + at + n, buf + at, *len - at);
            memcpy(buf + at, o, n);
            *len += n;
        }
        break;
    }
    buf[*len] = '\0';
}

static void mutants_parse_or_refuse_cleanly(void **state)
{
    char *paths[MAX_FILES];
    char dir[600], err[600], text[MAX_TEXT];
    const char *env_iter = getenv("OVS_FUZZ_ITERATIONS");
    const char *env_seed = getenv("OVS_FUZZ_SEED");
    long iterations = env_iter ? atol(env_iter) : 20000;
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : 20261122;
    ovs_rng rng;
    int accepted = 0, refused = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/scenarios", OVS_SOURCE_DIR);
    int n = ovs_scenario_files(dir, paths, MAX_FILES);
    assert_true(n > 0);
    ovs_rng_seed(&rng, seed);
    for (long i = 0; i < iterations; i++) {
        size_t len, dlen;
        int k = (int)ovs_rng_below(&rng, (uint64_t)n);
        char *orig = slurp(paths[k], &len);
        char *donor = slurp(paths[ovs_rng_below(&rng, (uint64_t)n)], &dlen);
        assert_non_null(orig);
        assert_non_null(donor);
        memcpy(text, orig, len + 1);
        int rounds = 1 + (int)ovs_rng_below(&rng, 4);
        for (int r = 0; r < rounds; r++)
            mutate(&rng, text, &len, donor, dlen);

        ovs_scenario sc;
        memset(&sc, 0, sizeof(sc));
        /* Parsed, then resolved, as the command line takes a file. */
        if (ovs_scenario_parse("fuzz.ini", text, &sc, err, sizeof(err)) == 0 &&
            ovs_scenario_resolve(&sc, err, sizeof(err)) == 0) {
            accepted++;
            assert_true(sc.name[0] != '\0');
        } else {
            refused++;
            /* "fuzz.ini:LINE: reason" or "fuzz.ini: reason", never a bare message. */
            if (strncmp(err, "fuzz.ini:", 9) != 0)
                fail_msg("seed %llu, iteration %ld: message without location: %s",
                         (unsigned long long)seed, i, err);
            long line = strtol(err + 9, NULL, 10);
            if (line < 0 || line > count_lines(text) + 1)
                fail_msg("seed %llu, iteration %ld: line %ld of %d: %s",
                         (unsigned long long)seed, i, line, count_lines(text), err);
        }
        ovs_scenario_free(&sc);
        free(orig);
        free(donor);
    }
    for (int k = 0; k < n; k++)
        free(paths[k]);
    print_message("%d mutants accepted, %d refused (seed %llu)\n", accepted, refused,
                  (unsigned long long)seed);
    /* Both outcomes must occur, or the mutations are too weak or too wild to mean much. */
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutants_parse_or_refuse_cleanly),
    };
    /* The shipped scenarios name strategies of strategies/ as well: registered as the
     * command line does, so that unmutated names resolve. */
    char dir[600], err[600];
    snprintf(dir, sizeof(dir), "%s/strategies", OVS_SOURCE_DIR);
    if (ovs_strategy_defs_register_dir(dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return cmocka_run_group_tests_name("scenario_fuzz", tests, NULL, NULL);
}
