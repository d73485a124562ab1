/* util.c - clocks, sleeps, seeded randomness, durations, dates, error strings and $PATH. */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t ovs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * OVS_NS_PER_S + ts.tv_nsec;
}

void ovs_sleep_until(int64_t t)
{
    /* A deadline already past is the common case on the request path (every buyer of a
     * burst arrives at t0). Reading the clock costs no system call; clock_nanosleep does,
     * even for a past deadline, and `oversell bench` found it taking a quarter of
     * lua-decr's time on a 2-core virtual machine. */
    if (ovs_now_ns() >= t)
        return;
    struct timespec ts = { .tv_sec = t / OVS_NS_PER_S, .tv_nsec = t % OVS_NS_PER_S };
    /* clock_nanosleep returns the error number directly; EINTR means a signal (SIGINT
     * sets a flag elsewhere): the absolute deadline makes the restart exact. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void ovs_sleep_ns(int64_t ns)
{
    if (ns > 0)
        ovs_sleep_until(ovs_now_ns() + ns);
}

void ovs_seterr(char *buf, size_t len, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    errno = saved;
}

void ovs_rng_seed(ovs_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t ovs_rng_next(ovs_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t ovs_rng_below(ovs_rng *r, uint64_t n)
{
    /* Rejection sampling keeps the distribution exact for any n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = ovs_rng_next(r);
    while (x >= limit);
    return x % n;
}

double ovs_rng_unit(ovs_rng *r)
{
    return (double)(ovs_rng_next(r) >> 11) * 0x1.0p-53;
}

int ovs_parse_duration(const char *text, int64_t *ns)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {
        { "ns", 1.0 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 },
    };
    char *end;
    double v;

    if (text == NULL)
        return -1;
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0' || *text == '-' || *text == '+')
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end == '\0') {
        /* A bare number is only unambiguous when it is zero. */
        if (v != 0)
            return -1;
        *ns = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].unit);
        if (strncmp(end, units[i].unit, n) == 0) {
            const char *rest = end + n;
            while (isspace((unsigned char)*rest))
                rest++;
            if (*rest != '\0')
                continue;
            double t = v * units[i].scale;
            if (t > 9.0e18)
                return -1;
            *ns = (int64_t)llround(t);
            return 0;
        }
    }
    return -1;
}

int ovs_parse_int(const char *text, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (text == NULL)
        return -1;
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int ovs_parse_double(const char *text, double *out)
{
    char *end;
    double v;

    if (text == NULL)
        return -1;
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || !isfinite(v))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian
 * calendar without touching time zones or the C library's struct tm. */
static int days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int)doe - 719468;
}

static void civil_from_days(int z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)yoe + era * 400 + (*m <= 2);
}

int ovs_parse_date(const char *text, int *day)
{
    int y;
    unsigned m, d;
    int n = 0;
    static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return -1;
    if (sscanf(text, "%4d-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10)
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return -1;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

void ovs_format_date(int day, char *buf, size_t len)
{
    int y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02u-%02u", y, m, d);
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int copy_path(char *buf, size_t len, const char *path)
{
    size_t n = strlen(path);
    if (n >= len)
        return -1;
    memcpy(buf, path, n + 1);
    return 0;
}

int ovs_find_executable(const char *name, char *buf, size_t len)
{
    const char *path, *p;
    char cand[PATH_MAX];

    if (strchr(name, '/') != NULL)
        return is_executable(name) ? copy_path(buf, len, name) : -1;
    path = getenv("PATH");
    if (path == NULL)
        return -1;
    for (p = path; *p != '\0';) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (dlen > 0) { /* an empty entry is skipped: see util.h */
            int n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, p, name);
            if (n > 0 && (size_t)n < sizeof(cand) && is_executable(cand))
                return copy_path(buf, len, cand);
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return -1;
}

char *ovs_trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Edit distance, bounded so a fuzzer's 200-character key costs nothing. */
static int distance(const char *a, const char *b)
{
    int row[64], prev[64];
    size_t la = strlen(a), lb = strlen(b);

    if (la >= 63 || lb >= 63)
        return INT_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int del = prev[j] + 1, ins = row[j - 1] + 1;
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            row[j] = del < ins ? del : ins;
            if (sub < row[j])
                row[j] = sub;
        }
        memcpy(prev, row, sizeof(row[0]) * (lb + 1));
    }
    return prev[lb];
}

const char *ovs_closest(const char *word, const char *const *names)
{
    const char *best = NULL;
    int bestd = 3;

    for (int i = 0; names[i]; i++) {
        int d = distance(word, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    return best;
}

/* A seed is any unsigned 64-bit number; strtoull alone would accept "-1" and " 1". */
int ovs_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

void ovs_wilson(int64_t k, int64_t n, double *lo, double *hi)
{
    const double z = 1.959963984540054; /* the 97.5th percentile of the normal */

    if (n <= 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double p = (double)k / (double)n, z2n = z * z / (double)n;
    double centre = (p + z2n / 2) / (1 + z2n);
    double half = z * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n)) / (1 + z2n);
    *lo = k == 0 ? 0 : fmax(0, centre - half);
    *hi = k == n ? 1 : fmin(1, centre + half);
}
