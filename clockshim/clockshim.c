/* clockshim.c - an LD_PRELOAD library that moves one process's wall clock.
 *
 * A `clock-jump` fault (scenarios/README.md) makes one redis-server's clock jump, so that
 * the keys it holds expire early or late, as a node whose clock an NTP step moved would
 * (the Redlock case of Kleppmann's "How to do distributed locking"). The fleet preloads
 * this library into the nodes such a fault targets, and only into them
 * (infra/fleet.c), with OVS_CLOCKSHIM_FILE naming an 8-byte file that holds the offset
 * in nanoseconds; the harness maps the same file and writes the offset at the fault's
 * time, and every later reading of the clock in the node adds it.
 *
 * Only the wall clock moves: CLOCK_REALTIME (and its coarse variant), gettimeofday and
 * time. Redis 7.0 judges a key's expiry by mstime() - ustime(), that is gettimeofday -
 * on access (keyIsExpired), in the active expire cycle, and in a script's time snapshot;
 * TIME answers from gettimeofday too. Its monotonic clock (getMonotonicUs) drives timers,
 * timeouts and script time limits, never expiry, and a real NTP step leaves it alone, so
 * it is left alone here.
 *
 * Why not libfaketime: Debian 12's libfaketime 0.9.10 cannot start Debian's redis-server
 * (jemalloc): "Unexpected recursive calls to clock_gettime()". Its wrappers resolve the
 * real functions with dlsym, which allocates, and the allocator reads the clock. Here
 * nothing is resolved: the real clocks are read by the system calls themselves, which
 * call nothing, and the offset file is mapped with open and mmap, which do not read the
 * clock either. The system call costs a few hundred nanoseconds more than the vDSO; a
 * node under test reads its clock a few times per command. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S INT64_C(1000000000)

static int64_t zero;                    /* the offset until (or unless) the file maps */
static _Atomic(int64_t *) offset;       /* the mapped offset, or &zero once mapping failed */

/* The offset now. The first reader maps the file; racing threads may each map it, and
 * the losers unmap theirs. A missing or short file leaves the clock alone for good: the
 * harness then sees, with TIME, that the clock did not move, and fails the fault. */
static int64_t offset_ns(void)
{
    int64_t *p = atomic_load_explicit(&offset, memory_order_acquire), *expected = NULL;
    const char *path;
    void *m = MAP_FAILED;
    int fd, saved = errno; /* the callers' errno is theirs: nothing here may change it */

    if (p != NULL)
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    path = getenv("OVS_CLOCKSHIM_FILE");
    fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        m = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
    }
    p = m == MAP_FAILED ? &zero : (int64_t *)m;
    if (!atomic_compare_exchange_strong(&offset, &expected, p)) {
        if (p != &zero)
            munmap(p, sizeof(int64_t));
        p = expected;
    }
    errno = saved;
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void shift(struct timespec *ts)
{
    int64_t ns = (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec + offset_ns();
    int64_t s = ns / NS_PER_S, rem = ns % NS_PER_S;

    if (rem < 0) { /* a clock moved back before the epoch: keep tv_nsec in 0..1e9-1 */
        rem += NS_PER_S;
        s--;
    }
    ts->tv_sec = (time_t)s;
    ts->tv_nsec = (long)rem;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    long rc = syscall(SYS_clock_gettime, id, ts);

    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        shift(ts);
    return (int)rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;

    if (tz != NULL && syscall(SYS_gettimeofday, NULL, tz) != 0)
        return -1;
    if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return -1;
    shift(&ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
    return 0;
}

time_t time(time_t *t)
{
    struct timespec ts;

    if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    shift(&ts);
    if (t != NULL)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
