/* scenario_reader.h - the scenario parser's first pass, shared with its second.
 *
 * Private to harness/scenario/: scenario_reader.c reads the file through inih into
 * sections of raw "key = value" entries, with their lines; scenario.c then interprets
 * them. Nothing outside this folder includes it. */
#ifndef OVS_SCENARIO_READER_H
#define OVS_SCENARIO_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/request.h"

enum sec_kind {
    SEC_SCENARIO, SEC_CLIENT, SEC_CROWD, SEC_REDIS, SEC_FAULT, SEC_STRATEGY, SEC_EXPECT
};

/* One "key = value" as read, kept until the second pass interprets it. */
typedef struct entry {
    char *key;
    char *value;
    int line;
} entry;

typedef struct section {
    enum sec_kind kind;
    char label[80];                /* "client alice", for messages */
    char arg[256];                 /* the NAME of [client NAME], [fault NAME], [strategy NAME],
                                      whole: a strategy's is checked only once resolved */
    int line;                      /* line of the header */
    entry *e;
    int n, cap;
} section;

typedef struct parser {
    const char *path;   /* for messages */
    FILE *f;            /* the source: a file, or */
    const char *text;   /* a NUL-terminated buffer */
    int line;           /* physical lines handed to inih so far */
    int io_errno;       /* nonzero when reading the file failed */
    section *sec;       /* in file order */
    int nsec, cap;
    int cur;            /* index of the section being read, -1 before the first */
    int nclients;
    int nfaults;
    int failed;         /* the first error has been written; stop */
    char *err;
    size_t errlen;
} parser;

/* Record the first error as "path:line: reason". Later errors are ignored: the user fixes
 * one thing at a time, and the first is the one whose cause is least likely to be an
 * earlier mistake. Returns -1 so callers can `return ovs_scn_fail(...)`. */
int ovs_scn_fail(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The inih reader and handler of the first pass (ini_parse_stream(ovs_scn_read_line, p,
 * ovs_scn_on_key, p)). */
char *ovs_scn_read_line(char *str, int num, void *stream);
int ovs_scn_on_key(void *user, const char *section_name, const char *key, const char *value);
/* Free what the first pass kept. */
void ovs_scn_parser_free(parser *p);
/* names, NULL-terminated, as "a, b, c" into buf. */
void ovs_scn_join(const char *const *names, char *buf, size_t len);
/* "inventory" or "booking", as files write them. */
const char *ovs_scn_workload_name(enum ovs_workload w);

#endif
