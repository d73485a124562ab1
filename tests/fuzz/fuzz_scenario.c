/* fuzz_scenario.c - the scenario parser under a coverage-guided fuzzer (libFuzzer).
 *
 * Scenario files are written by hand, so the parser must survive any input: no crash, no
 * leak, no read out of bounds under a coverage-guided fuzzer. Every input is parsed twice,
 * through both entry points users reach: ovs_scenario_parse() from memory and
 * ovs_scenario_load() from a file, so the reader's two sources (a buffer and getc on a
 * FILE) are both covered. What parses is then resolved against the registry
 * (ovs_scenario_resolve), as the command line does before anything runs. The file is a memfd reached as /proc/self/fd/N: no directory
 * to make or clean up and no disk write per input. Beyond "no crash, no leak, no read out
 * of bounds", which the sanitizers check, a result that breaks the parser's contract
 * aborts, so libFuzzer keeps the input:
 *
 *  - the two entry points agree, result and message, on every input without a NUL byte;
 *  - an input with a NUL byte is refused by load (the reader refuses NUL, and from memory
 *    the text simply ends there);
 *  - a refusal, the parser's or the resolver's, starts with the path, and leaves the
 *    scenario empty (the header says it is then safe to free, and callers print err);
 *  - an accepted scenario has a name and someone who makes a request, and stays inside the
 *    limits that downstream arrays are sized by.
 *
 * tests/fuzz/meson.build runs a short bounded session as a test; README.md gives the
 * command for long runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/plan.h"
#include "scenario/scenario.h"

/* Longer inputs only slow the fuzzer down: a file of OVS_MAX_CLIENTS clients fits well
 * under this, and the build passes a matching -max_len. */
#define FUZZ_MAX_INPUT 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static int memfd = -1;

static _Noreturn void broken(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_scenario: contract broken: %s\n  err: %s\n", what, err);
    abort();
}

/* The input as a file at `path`. The memfd lives as long as the process. */
static int write_file(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz-scenario", MFD_CLOEXEC);
        if (memfd < 0)
            return -1;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        return -1;
    return 0;
}

/* Resolve what parsed, as the command line does; a refusal is freed, so that it leaves the
 * scenario empty like the parser's. */
static int resolve(int rc, ovs_scenario *sc, char *err, size_t errlen)
{
    if (rc != 0 || ovs_scenario_resolve(sc, err, errlen) == 0)
        return rc;
    ovs_scenario_free(sc);
    return -1;
}

static int is_empty(const ovs_scenario *sc)
{
    static const ovs_scenario zero;
    return memcmp(sc, &zero, sizeof(zero)) == 0;
}

static void check_refusal(const ovs_scenario *sc, const char *err)
{
    size_t n = strlen(path);

    if (strncmp(err, path, n) != 0 || err[n] != ':')
        broken("a refusal does not start with 'path:'", err);
    if (!is_empty(sc))
        broken("a refusal left the scenario filled in", err);
}

static void check_accepted(const ovs_scenario *sc)
{
    if (sc->name[0] == '\0' || memchr(sc->name, '\0', sizeof(sc->name)) == NULL)
        broken("accepted without a name", "");
    if (ovs_scenario_requests(sc) < 1)
        broken("accepted with nobody making a request", "");
    if (sc->n_clients < 0 || sc->n_clients > OVS_MAX_CLIENTS || sc->n_faults < 0 ||
        sc->n_faults > OVS_MAX_FAULTS)
        broken("accepted past the client or fault limit", "");
    if (sc->has_crowd && (sc->crowd.workers < 1 || sc->crowd.think_ns > sc->crowd.think_max_ns))
        broken("accepted a crowd without workers or with an inverted think range", "");
    for (int i = 0; i < sc->n_clients; i++) {
        const ovs_request *r = &sc->clients[i].req;
        if (sc->workload == OVS_BOOKING &&
            (r->check_out <= r->check_in || r->check_out - r->check_in > OVS_MAX_NIGHTS))
            broken("accepted a booking outside 1..OVS_MAX_NIGHTS nights", "");
        if (sc->clients[i].start_ns < 0 || sc->clients[i].start_ns > OVS_MAX_DURATION_NS ||
            sc->clients[i].think_ns < 0 || sc->clients[i].think_ns > OVS_MAX_DURATION_NS)
            broken("accepted a client duration outside 0..an hour", "");
    }
}

/* What both entry points must agree on when both accept. Not a memcmp of the whole
 * structs: they hold pointers, and struct copies need not copy padding. */
static void check_same(const ovs_scenario *a, const ovs_scenario *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->description, b->description) != 0 ||
        a->workload != b->workload || a->seed != b->seed || a->skus != b->skus ||
        a->stock != b->stock || a->n_clients != b->n_clients || a->has_crowd != b->has_crowd ||
        a->crowd.buyers != b->crowd.buyers || a->n_faults != b->n_faults ||
        a->n_params != b->n_params || a->n_expect != b->n_expect)
        broken("parse from memory and load from a file accepted different scenarios", "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ovs_scenario mem, file;
    char err_mem[600], err_file[600], *text;
    int rc_mem, rc_file, has_nul;

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    /* A copy of exactly size + 1 bytes, so that reading past the terminator is out of
     * bounds for ASan rather than a read of a larger buffer's leftovers. */
    text = malloc(size + 1);
    if (text == NULL)
        broken("out of memory", "");
    memcpy(text, data, size);
    text[size] = '\0';
    has_nul = memchr(data, '\0', size) != NULL;
    if (write_file(data, size) != 0)
        broken("cannot write the input to a memfd", "");

    err_mem[0] = err_file[0] = '\0';
    rc_mem = ovs_scenario_parse(path, text, &mem, err_mem, sizeof(err_mem));
    rc_mem = resolve(rc_mem, &mem, err_mem, sizeof(err_mem));
    rc_file = ovs_scenario_load(path, &file, err_file, sizeof(err_file));
    rc_file = resolve(rc_file, &file, err_file, sizeof(err_file));

    if (rc_mem != 0 && rc_mem != -1)
        broken("ovs_scenario_parse returned neither 0 nor -1", err_mem);
    if (rc_file != 0 && rc_file != -1)
        broken("ovs_scenario_load returned neither 0 nor -1", err_file);
    if (rc_mem == 0)
        check_accepted(&mem);
    else
        check_refusal(&mem, err_mem);
    if (rc_file == 0)
        check_accepted(&file);
    else
        check_refusal(&file, err_file);
    if (has_nul) {
        if (rc_file == 0)
            broken("load accepted a file with a NUL byte", "");
    } else if (rc_mem != rc_file || (rc_mem != 0 && strcmp(err_mem, err_file) != 0)) {
        fprintf(stderr, "memory: %d %s\nfile:   %d %s\n", rc_mem, err_mem, rc_file, err_file);
        broken("parse from memory and load from a file disagree", "");
    } else if (rc_mem == 0) {
        check_same(&mem, &file);
    }
    ovs_scenario_free(&mem);
    ovs_scenario_free(&file);
    free(text);
    return 0;
}
