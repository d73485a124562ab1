/* util.h - clocks, sleeps, seeded randomness, durations, dates, error strings and $PATH.
 *
 * Small stateless helpers shared by every module. Times inside the harness are signed
 * 64-bit nanoseconds of CLOCK_MONOTONIC: comparable across threads of one process, never
 * stepped by NTP, so the intervals the checker compares are honest. */
#ifndef OVS_UTIL_H
#define OVS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define OVS_NS_PER_MS INT64_C(1000000)
#define OVS_NS_PER_S INT64_C(1000000000)

/* Return codes shared by every module. Contention is a result, not an error. */
enum {
    OVS_OK = 0,       /* done: lock held, item sold, room booked */
    OVS_BUSY = 1,     /* not acquired: someone else holds it (after the strategy's retries) */
    OVS_REFUSED = 2,  /* a clean no from the shop: sold out, room taken */
    OVS_STALE = 3,    /* the shop refused a write (or a read) whose fencing token is no
                         longer the highest registered for a resource it touches: the
                         holder's lock had moved on. Certainly did not happen */
    OVS_UNDONE = 4,   /* xUnlock only: the lock was a transaction and it did not commit; it
                         was rolled back, so every write made under it certainly did not
                         happen (a failed COMMIT under sql-pessimistic) */
    OVS_ERR = -1,     /* failed; errstr says why. The operation certainly did not happen */
    OVS_ERR_IO = -2,  /* lost connection or timeout: the operation may have happened */
    OVS_ERR_ENV = -3, /* the machine cannot run it (no redis-server, no free port, a
                         server that would not come up): it says nothing of the strategy;
                         the command line exits with status 3 */
};

int64_t ovs_now_ns(void);
/* Sleep for ns (<= 0 returns at once). Restarts after signals. */
void ovs_sleep_ns(int64_t ns);
/* Sleep until the monotonic time t. */
void ovs_sleep_until(int64_t t);

/* Format into a caller-owned error buffer, truncating safely; saves and restores errno so
 * callers can format after a failed system call and still inspect it. */
void ovs_seterr(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Seeded generator (splitmix64): the same seed gives the same schedule on every machine. */
typedef struct ovs_rng {
    uint64_t s; /* state; any value is valid */
} ovs_rng;

void ovs_rng_seed(ovs_rng *r, uint64_t seed);
uint64_t ovs_rng_next(ovs_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t ovs_rng_below(ovs_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double ovs_rng_unit(ovs_rng *r);

/* The 95 % Wilson score interval of a rate of k successes in n trials (0 <= k <= n),
 * into [*lo, *hi] within [0, 1]; [0, 1] when n is 0. Unlike k/n +- 1.96 sd it stays in
 * range and says something at k = 0 or k = n: 0 of 20 is [0, 0.161]. */
void ovs_wilson(int64_t k, int64_t n, double *lo, double *hi);

/* Parse a duration with a unit: "150ms", "2s", "250us", "10ns", "1.5s", or a bare "0".
 * Returns 0 and sets *ns, or -1 when the text is not a duration. */
int ovs_parse_duration(const char *text, int64_t *ns);
/* Parse a whole decimal integer in [min, max]; -1 when malformed or out of range. */
int ovs_parse_int(const char *text, long long min, long long max, long long *out);
/* Parse a whole unsigned decimal (a seed: any 64-bit value); -1 when malformed or out
 * of range. */
int ovs_parse_u64(const char *text, uint64_t *out);
/* Parse a finite double; -1 when malformed. */
int ovs_parse_double(const char *text, double *out);

/* Dates are days since 1970-01-01 (proleptic Gregorian). "2026-01-20" -> day number.
 * Returns -1 when the text is not a valid calendar date. */
int ovs_parse_date(const char *text, int *day);
/* Writes "YYYY-MM-DD" into buf (at least 11 bytes). */
void ovs_format_date(int day, char *buf, size_t len);

/* The executable a command name runs, into buf: a name with a slash as it is, a bare name
 * looked up in each directory of $PATH in turn, as execvp(3) does - with one difference
 * on purpose: POSIX reads an empty entry of $PATH as the current directory, and here it is
 * skipped, since running whatever `redis-server` happens to sit in the working directory
 * is not what anyone means. An unset or empty $PATH finds nothing. Only a regular file
 * the caller may execute counts. Returns 0, or -1 when there is none or it does not fit
 * in len. */
int ovs_find_executable(const char *name, char *buf, size_t len);

/* Trim leading and trailing white space in place; returns s. */
char *ovs_trim(char *s);

/* For "did you mean": the name in the NULL-terminated list closest to word, within two
 * edits, or NULL. A word or name of 63 characters or more matches nothing. */
const char *ovs_closest(const char *word, const char *const *names);

#endif
