/* html_repeats.h - the repeated cells in index.html. Private to reports/. */
#ifndef OVS_HTML_REPEATS_H
#define OVS_HTML_REPEATS_H

#include <stdio.h>

#include "reports/repeats.h"

/* A 100 px bar of 0..100 %: the 95 % Wilson interval of k unsafe runs of n as a band,
 * the observed rate as a tick, both said in its title. */
void ovs_html_rate_bar(FILE *out, long long k, long long n);

/* The "Repeated cells" section; nothing when there is none. */
void ovs_html_repeats(FILE *out, const ovs_rep_cells *c);

#endif
