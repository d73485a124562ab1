/* junit.c - JUnit XML output for the gate. */
#include "reports/junit.h"

void ovs_xml_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            /* XML 1.0 forbids most control characters, even escaped. */
            if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
                fputc(' ', out);
            else
                fputc(c, out);
        }
    }
}

int ovs_junit_write(FILE *out, const char *suite_name, const ovs_junit_case *cases, int n)
{
    int failures = 0, skipped = 0;
    double total = 0;

    for (int i = 0; i < n; i++) {
        failures += cases[i].failed;
        skipped += cases[i].skipped != NULL;
        total += cases[i].seconds;
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n", n, failures, total);
    fprintf(out, "  <testsuite name=\"");
    ovs_xml_escape(out, suite_name);
    fprintf(out, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n",
            n, failures, skipped, total);
    for (int i = 0; i < n; i++) {
        const ovs_junit_case *c = &cases[i];
        fprintf(out, "    <testcase classname=\"");
        ovs_xml_escape(out, c->suite);
        fprintf(out, "\" name=\"");
        ovs_xml_escape(out, c->name);
        fprintf(out, "\" time=\"%.3f\"", c->seconds);
        if (c->skipped != NULL) {
            fprintf(out, ">\n      <skipped message=\"");
            ovs_xml_escape(out, c->skipped);
            fprintf(out, "\"/>\n    </testcase>\n");
            continue;
        }
        if (!c->failed) {
            fprintf(out, "/>\n");
            continue;
        }
        fprintf(out, ">\n      <failure message=\"");
        ovs_xml_escape(out, c->message);
        fprintf(out, "\" type=\"verdict\">");
        ovs_xml_escape(out, c->detail ? c->detail : c->message);
        fprintf(out, "</failure>\n    </testcase>\n");
    }
    fprintf(out, "  </testsuite>\n</testsuites>\n");
    return ferror(out) ? -1 : 0;
}
