/* junit.h - JUnit XML for CI systems: one test case per scenario x strategy cell.
 *
 * The dialect GitLab, Jenkins and GitHub's test reporters all read: <testsuites> with one
 * <testsuite>, <testcase classname name time>, and a <failure message> child for failed
 * cells. */
#ifndef OVS_JUNIT_H
#define OVS_JUNIT_H

#include <stdio.h>

typedef struct ovs_junit_case {
    const char *suite;   /* the scenario: the test case's classname */
    const char *name;    /* the strategy */
    double seconds;      /* wall time of the cell */
    int failed;          /* 1 when the cell did not match its expectation */
    const char *message; /* one line: why it failed (NULL when it passed) */
    const char *detail;  /* longer text: the figure and the scenario file (may be NULL) */
    const char *skipped; /* why the cell was not run (n/a on its back end), or NULL */
} ovs_junit_case;

/* Write the XML to out. Returns 0 or -1 on a write error. */
int ovs_junit_write(FILE *out, const char *suite_name, const ovs_junit_case *cases, int n);
/* Escape text for XML attributes and content. */
void ovs_xml_escape(FILE *out, const char *s);

#endif
