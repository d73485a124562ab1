/* test_proxy.c - live tests of the fault proxy (harness/infra/proxy.c) on real sockets.
 *
 * Most tests put the proxy in front of a tiny echo server run by this file (it can send a
 * banner on connect, and records when it last received something, so a test can tell
 * which direction a delay was applied to). The Redis tests put it in front of a real
 * redis-server from the fleet and talk through it with hiredis; they fail rather than skip
 * when CI=true and no redis-server exists (live.h).
 *
 * Timing assertions are one-sided where the proxy promises something (a chunk is never
 * delivered before its due time) and generous where the machine decides (upper bounds are
 * medians with tens of milliseconds of slack, for a loaded 2-core runner). Every wait is
 * bounded. The fixture owns everything a test opens, so a failed assertion still stops
 * the proxy, the servers and the threads. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "infra/fleet.h"
#include "live.h"
#include "infra/proxy.h"
#include "core/util.h"

#define WAIT_NS (3 * OVS_NS_PER_S) /* bound of every wait for something that must happen */
#define ROUNDS 9                   /* round trips per latency measurement (odd: a median) */
#define ECHO_MAX_CONNS 32
#define MAX_CLIENTS 16
#define MSG_LEN 6                  /* "%05d\n" */

/* ---------------------------------------------------------------------------------------
 * Echo server. */

typedef struct echo {
    int listen_fd;
    int wake_fd;              /* eventfd: stop */
    pthread_t thread;
    ovs_endpoint ep;
    char banner[16];          /* sent on every accepted connection, "" for none */
    atomic_llong last_rx_ns;  /* monotonic time of the last read with data */
    atomic_ullong rx_bytes;   /* bytes received from all connections */
    atomic_int accepted;      /* connections accepted */
} echo;

static int send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *echo_main(void *arg)
{
    echo *e = arg;
    int conn[ECHO_MAX_CONNS];
    int nconn = 0;
    char buf[16384];

    for (;;) {
        struct pollfd pfd[2 + ECHO_MAX_CONNS];
        pfd[0] = (struct pollfd){ .fd = e->wake_fd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = nconn < ECHO_MAX_CONNS ? e->listen_fd : -1,
                                  .events = POLLIN };
        for (int i = 0; i < nconn; i++)
            pfd[2 + i] = (struct pollfd){ .fd = conn[i], .events = POLLIN };
        int n = poll(pfd, (nfds_t)(2 + nconn), 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (pfd[0].revents != 0)
            break;
        int polled = nconn;
        for (int i = 0; i < polled; i++) {
            if (pfd[2 + i].revents == 0)
                continue;
            ssize_t k = recv(conn[i], buf, sizeof(buf), 0);
            if (k > 0) {
                atomic_store(&e->last_rx_ns, (long long)ovs_now_ns());
                atomic_fetch_add(&e->rx_bytes, (unsigned long long)k);
                if (send_all(conn[i], buf, (size_t)k) == 0)
                    continue;
            } else if (k < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            close(conn[i]);
            conn[i] = -1;
        }
        int k = 0;
        for (int i = 0; i < nconn; i++)
            if (conn[i] >= 0)
                conn[k++] = conn[i];
        nconn = k;
        if (pfd[1].revents != 0) {
            int c = accept(e->listen_fd, NULL, NULL);
            if (c >= 0) {
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                atomic_fetch_add(&e->accepted, 1);
                if (e->banner[0] != '\0' && send_all(c, e->banner, strlen(e->banner)) != 0)
                    close(c);
                else
                    conn[nconn++] = c;
            }
        }
    }
    for (int i = 0; i < nconn; i++)
        close(conn[i]);
    return NULL;
}

static echo *echo_start(const char *banner)
{
    echo *e = calloc(1, sizeof(*e));
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);

    assert_non_null(e);
    snprintf(e->banner, sizeof(e->banner), "%s", banner);
    e->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(e->listen_fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(e->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(e->listen_fd, 64), 0);
    assert_int_equal(getsockname(e->listen_fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(e->ep.host, sizeof(e->ep.host), "127.0.0.1");
    e->ep.port = ntohs(sa.sin_port);
    e->wake_fd = eventfd(0, EFD_CLOEXEC);
    assert_true(e->wake_fd >= 0);
    assert_int_equal(pthread_create(&e->thread, NULL, echo_main, e), 0);
    return e;
}

static void echo_stop(echo *e)
{
    uint64_t one = 1;
    if (e == NULL)
        return;
    assert_int_equal(write(e->wake_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    pthread_join(e->thread, NULL);
    close(e->listen_fd);
    close(e->wake_fd);
    free(e);
}

/* ---------------------------------------------------------------------------------------
 * Fixture. */

typedef struct fixture {
    echo *echo[2];
    ovs_proxy *proxy;
    ovs_fleet *fleet;
    redisContext *redis[2];
    int fd[MAX_CLIENTS]; /* client sockets, -1 when free */
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        fx->fd[i] = -1;
    *state = fx;
    return 0;
}

/* Clients first, then the proxy, then what it forwards to: the echo server's blocking
 * sends finish (or fail) only once the proxy is gone. */
static int teardown(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < 2; i++)
        if (fx->redis[i] != NULL)
            redisFree(fx->redis[i]);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (fx->fd[i] >= 0)
            close(fx->fd[i]);
    ovs_proxy_stop(fx->proxy);
    for (int i = 0; i < 2; i++)
        echo_stop(fx->echo[i]);
    ovs_fleet_stop(fx->fleet);
    free(fx);
    return 0;
}

static void start_proxy(fixture *fx, const ovs_endpoint *upstream)
{
    char err[256] = "";
    if (ovs_proxy_start(upstream, &fx->proxy, err, sizeof(err)) != 0)
        fail_msg("ovs_proxy_start: %s", err);
    assert_non_null(fx->proxy);
    assert_string_equal(ovs_proxy_endpoint(fx->proxy)->host, "127.0.0.1");
    assert_true(ovs_proxy_endpoint(fx->proxy)->port > 0);
}

/* A blocking client socket to the proxy, owned by the fixture; rcvbuf > 0 shrinks its
 * receive buffer so that the proxy's sends to it fill up and come back partial. */
static int client_rcvbuf(fixture *fx, int rcvbuf)
{
    const ovs_endpoint *ep = ovs_proxy_endpoint(fx->proxy);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ep->port) };
    int one = 1, slot = -1;

    for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
        if (fx->fd[i] < 0)
            slot = i;
    assert_true(slot >= 0);
    inet_pton(AF_INET, ep->host, &sa.sin_addr);
    fx->fd[slot] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fx->fd[slot] >= 0);
    if (rcvbuf > 0) /* before connect: the window is negotiated in the handshake */
        setsockopt(fx->fd[slot], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    assert_int_equal(connect(fx->fd[slot], (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fx->fd[slot], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fx->fd[slot];
}

static int client(fixture *fx)
{
    return client_rcvbuf(fx, 0);
}

/* Read up to n bytes until they are all there, the peer closes, or deadline. Returns the
 * count read; *eof (may be NULL) says whether the peer closed (or reset). */
static size_t recv_until(int fd, char *buf, size_t n, int64_t deadline, int *eof)
{
    size_t got = 0;
    if (eof != NULL)
        *eof = 0;
    while (got < n) {
        int64_t left = deadline - ovs_now_ns();
        if (left <= 0)
            break;
        struct pollfd q = { .fd = fd, .events = POLLIN };
        int r = poll(&q, 1, (int)(left / OVS_NS_PER_MS) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t k = recv(fd, buf + got, n - got, MSG_DONTWAIT);
        if (k > 0) {
            got += (size_t)k;
        } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
            if (eof != NULL)
                *eof = 1;
            break;
        }
    }
    return got;
}

/* 1 when the peer closes within the bound; whatever arrives before is discarded. */
static int closed_within(int fd, int64_t ns)
{
    int64_t deadline = ovs_now_ns() + ns;
    char buf[4096];
    int eof = 0;
    while (!eof && ovs_now_ns() < deadline)
        recv_until(fd, buf, sizeof(buf), deadline, &eof);
    return eof;
}

/* 1 when nothing at all arrives (no data, no close) for ns. */
static int silent_for(int fd, int64_t ns)
{
    struct pollfd q = { .fd = fd, .events = POLLIN };
    int64_t deadline = ovs_now_ns() + ns;
    for (;;) {
        int64_t left = deadline - ovs_now_ns();
        if (left <= 0)
            return 1;
        int r = poll(&q, 1, (int)(left / OVS_NS_PER_MS) + 1);
        if (r > 0)
            return 0;
    }
}

/* Send msg and wait for its echo. Returns the round trip in ns; *up_ns (may be NULL) gets
 * the time until the echo server received it. */
static int64_t round_trip(int fd, const echo *e, const char *msg, int64_t *up_ns)
{
    size_t n = strlen(msg);
    char buf[256];
    int64_t t0 = ovs_now_ns();

    assert_true(n < sizeof(buf));
    assert_int_equal(send_all(fd, msg, n), 0);
    assert_int_equal(recv_until(fd, buf, n, t0 + WAIT_NS, NULL), n);
    int64_t t1 = ovs_now_ns();
    assert_memory_equal(buf, msg, n);
    if (up_ns != NULL)
        *up_ns = (int64_t)atomic_load(&e->last_rx_ns) - t0;
    return t1 - t0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    return v[n / 2];
}

/* Send count numbered lines from first, each its own send() a little apart so the proxy
 * reads them as separate chunks (separate due times). */
static void send_numbered(int fd, int first, int count, int64_t gap_ns)
{
    char msg[16];
    for (int i = first; i < first + count; i++) {
        snprintf(msg, sizeof(msg), "%05d\n", i);
        assert_int_equal(send_all(fd, msg, MSG_LEN), 0);
        ovs_sleep_ns(gap_ns);
    }
}

/* Expect exactly the lines first..first+count-1, in that order. */
static void expect_numbered(int fd, int first, int count)
{
    size_t n = (size_t)count * MSG_LEN;
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    size_t got = recv_until(fd, buf, n, ovs_now_ns() + WAIT_NS, NULL);
    if (got != n) {
        free(buf);
        fail_msg("got %zu of %zu bytes", got, n);
    }
    for (int i = 0; i < count; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%05d\n", first + i);
        if (memcmp(buf + (size_t)i * MSG_LEN, want, MSG_LEN) != 0) {
            char seen[MSG_LEN + 1];
            memcpy(seen, buf + (size_t)i * MSG_LEN, MSG_LEN);
            seen[MSG_LEN - 1] = '\0';
            free(buf);
            fail_msg("line %d: expected %05d, got %s (reordered or lost)", i, first + i, seen);
        }
    }
    free(buf);
}

static void wait_counters(ovs_proxy *p, uint64_t up, uint64_t down)
{
    int64_t deadline = ovs_now_ns() + WAIT_NS;
    uint64_t u = 0, d = 0;
    while (ovs_now_ns() < deadline) {
        ovs_proxy_counters(p, &u, &d);
        if (u == up && d == down)
            return;
        ovs_sleep_ns(5 * OVS_NS_PER_MS);
    }
    fail_msg("counters up=%llu down=%llu, expected %llu and %llu", (unsigned long long)u,
             (unsigned long long)d, (unsigned long long)up, (unsigned long long)down);
}

/* ---------------------------------------------------------------------------------------
 * Tests with the echo server. */

static void test_refuses_non_loopback(void **state)
{
    static const char *const hosts[] = { "10.0.0.1", "8.8.8.8", "0.0.0.0", "::1",
                                         "example.com", "" };
    fixture *fx = *state;
    char err[256];

    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        ovs_endpoint ep = { .port = 6379 };
        ovs_proxy *p = (ovs_proxy *)&ep; /* must be reset to NULL */
        snprintf(ep.host, sizeof(ep.host), "%s", hosts[i]);
        err[0] = '\0';
        assert_int_equal(ovs_proxy_start(&ep, &p, err, sizeof(err)), -1);
        assert_null(p);
        assert_true(err[0] != '\0');
    }
    ovs_endpoint bad_port = { .host = "127.0.0.1", .port = 0 };
    ovs_proxy *p = NULL;
    assert_int_equal(ovs_proxy_start(&bad_port, &p, err, sizeof(err)), -1);
    /* All of 127.0.0.0/8 is loopback. */
    ovs_endpoint other = { .host = "127.0.0.2", .port = 6379 };
    start_proxy(fx, &other);
    ovs_proxy_stop(NULL);
}

static void test_pass_through(void **state)
{
    fixture *fx = *state;
    enum { BIG = 8 << 20 }; /* beyond tcp_wmem (4 MiB by default): sends fill up */

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    int fd = client(fx);
    round_trip(fd, fx->echo[0], "hello", NULL);
    wait_counters(fx->proxy, 5, 5);

    /* Megabytes sent before a byte of them is read back, to a client with a small receive
     * buffer: the proxy must queue the echo, and its sends to the client come back
     * partial or EAGAIN over and over. Every byte must still arrive once, in order. */
    int small = client_rcvbuf(fx, 16 * 1024);
    char *out = malloc(BIG), *in = malloc(BIG);
    assert_non_null(out);
    assert_non_null(in);
    for (size_t i = 0; i < BIG; i++)
        out[i] = (char)(i * 131 + (i >> 11));
    int sent = send_all(small, out, BIG);
    ovs_sleep_ns(100 * OVS_NS_PER_MS); /* let the proxy hit the full buffer */
    size_t got = sent == 0 ? recv_until(small, in, BIG, ovs_now_ns() + 10 * OVS_NS_PER_S, NULL)
                           : 0;
    int same = got == BIG && memcmp(in, out, BIG) == 0;
    free(out);
    free(in);
    assert_int_equal(sent, 0);
    assert_int_equal(got, BIG);
    assert_true(same);
    wait_counters(fx->proxy, 5 + BIG, 5 + BIG);
}

/* 25 ms each way: every round trip takes at least 50 ms (a chunk is never early), and the
 * median not much more. */
static void test_latency_both(void **state)
{
    fixture *fx = *state;
    int64_t rtt[ROUNDS], up[ROUNDS];

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    int fd = client(fx);
    round_trip(fd, fx->echo[0], "warm", NULL);
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_BOTH, 25 * OVS_NS_PER_MS, 0, 1);
    for (int i = 0; i < ROUNDS; i++) {
        rtt[i] = round_trip(fd, fx->echo[0], "ping-ping", &up[i]);
        if (rtt[i] < 50 * OVS_NS_PER_MS)
            fail_msg("round trip %d took %.3f ms, under the 50 ms of latency", i,
                     (double)rtt[i] / 1e6);
        assert_true(up[i] >= 25 * OVS_NS_PER_MS);
    }
    int64_t m = median(rtt, ROUNDS);
    if (m >= 90 * OVS_NS_PER_MS)
        fail_msg("median round trip %.3f ms with 2 x 25 ms latency", (double)m / 1e6);

    /* Latency off again: fast. */
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_BOTH, 0, 0, 0);
    for (int i = 0; i < ROUNDS; i++)
        rtt[i] = round_trip(fd, fx->echo[0], "pong", NULL);
    assert_true(median(rtt, ROUNDS) < 25 * OVS_NS_PER_MS);
}

/* Latency on DOWN only delays replies: requests reach the server at once. */
static void test_latency_down_only(void **state)
{
    fixture *fx = *state;
    const int64_t lat = 60 * OVS_NS_PER_MS;
    int64_t rtt[ROUNDS], up[ROUNDS];

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_DOWN, lat, 0, 7);
    int fd = client(fx);
    for (int i = 0; i < ROUNDS; i++) {
        rtt[i] = round_trip(fd, fx->echo[0], "req", &up[i]);
        if (rtt[i] < lat)
            fail_msg("round trip %d took %.3f ms, under the 60 ms of latency", i,
                     (double)rtt[i] / 1e6);
    }
    int64_t mu = median(up, ROUNDS), mr = median(rtt, ROUNDS);
    if (mu >= lat / 2)
        fail_msg("requests took a median %.3f ms to reach the server: UP was delayed",
                 (double)mu / 1e6);
    if (mr >= lat + 40 * OVS_NS_PER_MS)
        fail_msg("median round trip %.3f ms with 60 ms down", (double)mr / 1e6);
}

/* Jitter as large as the latency would reorder chunks sent 0.2 ms apart, were each not
 * held behind the one before it. */
static void test_order_under_jitter(void **state)
{
    fixture *fx = *state;
    enum { N = 300 };

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_BOTH, 5 * OVS_NS_PER_MS, 5 * OVS_NS_PER_MS,
                          42);
    int fd = client(fx);
    send_numbered(fd, 0, N, 200 * 1000);
    expect_numbered(fd, 0, N);
    wait_counters(fx->proxy, N * MSG_LEN, N * MSG_LEN);
}

/* STALL holds requests (the server sees nothing), then PASS delivers them all, in order. */
static void test_stall_then_pass(void **state)
{
    fixture *fx = *state;
    uint64_t up0, down0, up1, down1;

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    int fd = client(fx);
    round_trip(fd, fx->echo[0], "ready", NULL);
    unsigned long long rx = atomic_load(&fx->echo[0]->rx_bytes);
    wait_counters(fx->proxy, 5, 5);
    ovs_proxy_counters(fx->proxy, &up0, &down0);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_STALL);
    send_numbered(fd, 0, 20, 1000 * 1000);
    assert_true(silent_for(fd, 200 * OVS_NS_PER_MS));
    assert_int_equal(atomic_load(&fx->echo[0]->rx_bytes), rx);
    ovs_proxy_counters(fx->proxy, &up1, &down1);
    assert_int_equal(up1, up0);
    assert_int_equal(down1, down0);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_PASS);
    expect_numbered(fd, 0, 20);
    /* The connection is still good afterwards. */
    round_trip(fd, fx->echo[0], "after", NULL);
}

/* CUT discards in both directions and keeps connections open and silent. When it ends,
 * connections that lost bytes are closed and idle ones carry on. */
static void test_cut_discards(void **state)
{
    fixture *fx = *state;
    uint64_t up0, down0, up1, down1;

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    int busy = client(fx), idle = client(fx);
    round_trip(busy, fx->echo[0], "ready", NULL);
    round_trip(idle, fx->echo[0], "ready", NULL);
    unsigned long long rx = atomic_load(&fx->echo[0]->rx_bytes);
    /* A client can read its echo before the proxy thread has counted it. */
    wait_counters(fx->proxy, 10, 10);
    ovs_proxy_counters(fx->proxy, &up0, &down0);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_CUT);
    assert_int_equal(send_all(busy, "lost\n", 5), 0);
    int during = client(fx); /* accepted, and just as silent */
    assert_int_equal(send_all(during, "lost too\n", 9), 0);
    assert_true(silent_for(busy, 200 * OVS_NS_PER_MS));
    assert_true(silent_for(during, 10 * OVS_NS_PER_MS));
    assert_true(silent_for(idle, 10 * OVS_NS_PER_MS));
    assert_int_equal(atomic_load(&fx->echo[0]->rx_bytes), rx);
    ovs_proxy_counters(fx->proxy, &up1, &down1);
    assert_int_equal(up1, up0);
    assert_int_equal(down1, down0);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_PASS);
    assert_true(closed_within(busy, WAIT_NS));
    assert_true(closed_within(during, WAIT_NS));
    /* Nothing sent during the cut ever arrives: discarded, not held. */
    assert_int_equal(atomic_load(&fx->echo[0]->rx_bytes), rx);
    round_trip(idle, fx->echo[0], "idle survives", NULL);
    int fresh = client(fx);
    round_trip(fresh, fx->echo[0], "fresh works", NULL);
}

/* Bytes queued by latency when the cut begins are in flight, and lost. */
static void test_cut_drops_in_flight(void **state)
{
    fixture *fx = *state;

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    int fd = client(fx);
    round_trip(fd, fx->echo[0], "ready", NULL);
    unsigned long long rx = atomic_load(&fx->echo[0]->rx_bytes);
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_UP, 300 * OVS_NS_PER_MS, 0, 3);
    assert_int_equal(send_all(fd, "in flight\n", 10), 0);
    ovs_sleep_ns(20 * OVS_NS_PER_MS);
    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_CUT);
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_BOTH, 0, 0, 0);
    assert_true(silent_for(fd, 400 * OVS_NS_PER_MS));
    assert_int_equal(atomic_load(&fx->echo[0]->rx_bytes), rx);
    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_PASS);
    assert_true(closed_within(fd, WAIT_NS));
    assert_int_equal(atomic_load(&fx->echo[0]->rx_bytes), rx);
}

/* Retarget closes open connections; new ones reach the new upstream. A non-loopback
 * target is refused by closing every new connection at once. */
static void test_retarget(void **state)
{
    fixture *fx = *state;
    char buf[8];

    fx->echo[0] = echo_start("A\n");
    fx->echo[1] = echo_start("B\n");
    start_proxy(fx, &fx->echo[0]->ep);
    int a = client(fx);
    assert_int_equal(recv_until(a, buf, 2, ovs_now_ns() + WAIT_NS, NULL), 2);
    assert_memory_equal(buf, "A\n", 2);

    ovs_proxy_retarget(fx->proxy, &fx->echo[1]->ep);
    assert_true(closed_within(a, WAIT_NS));
    int b = client(fx);
    assert_int_equal(recv_until(b, buf, 2, ovs_now_ns() + WAIT_NS, NULL), 2);
    assert_memory_equal(buf, "B\n", 2);
    round_trip(b, fx->echo[1], "on B", NULL);

    ovs_endpoint far = { .host = "192.0.2.1", .port = 6379 };
    int before = atomic_load(&fx->echo[1]->accepted);
    ovs_proxy_retarget(fx->proxy, &far);
    assert_true(closed_within(b, WAIT_NS));
    int refused = client(fx);
    assert_true(closed_within(refused, WAIT_NS));
    assert_int_equal(atomic_load(&fx->echo[1]->accepted), before);

    ovs_proxy_retarget(fx->proxy, &fx->echo[0]->ep);
    int again = client(fx);
    assert_int_equal(recv_until(again, buf, 2, ovs_now_ns() + WAIT_NS, NULL), 2);
    assert_memory_equal(buf, "A\n", 2);
}

/* An upstream that refuses the connection: the client is closed, not left hanging. */
static void test_upstream_refused(void **state)
{
    fixture *fx = *state;
    echo *e = echo_start("");
    ovs_endpoint gone = e->ep;
    echo_stop(e); /* its port is now closed */

    start_proxy(fx, &gone);
    int fd = client(fx);
    assert_true(closed_within(fd, WAIT_NS));
}

/* Stop with connections open and bytes held in every queue: the clients see the close,
 * and AddressSanitizer sees no leak at exit. */
static void test_stop_with_open_connections(void **state)
{
    fixture *fx = *state;
    int fd[4];
    char *blob = calloc(1, 100000);

    assert_non_null(blob);
    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    for (int i = 0; i < 4; i++) {
        fd[i] = client(fx);
        round_trip(fd[i], fx->echo[0], "x", NULL);
    }
    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_BOTH, 500 * OVS_NS_PER_MS, 0, 9);
    assert_int_equal(send_all(fd[0], blob, 100000), 0);
    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_STALL);
    for (int i = 1; i < 4; i++)
        assert_int_equal(send_all(fd[i], blob, 100000), 0);
    free(blob);
    ovs_sleep_ns(50 * OVS_NS_PER_MS);

    ovs_proxy_stop(fx->proxy);
    fx->proxy = NULL;
    for (int i = 0; i < 4; i++)
        assert_true(closed_within(fd[i], WAIT_NS));
}

typedef struct flipper {
    ovs_proxy *proxy;
    atomic_int stop;
} flipper;

static void *read_counters(void *arg)
{
    flipper *f = arg;
    uint64_t last = 0;
    while (!atomic_load(&f->stop)) {
        uint64_t up, down;
        ovs_proxy_counters(f->proxy, &up, &down);
        if (up < last)
            return (void *)1;
        last = up;
        ovs_sleep_ns(OVS_NS_PER_MS);
    }
    return NULL;
}

/* Modes and latency changed over and over while bytes flow, counters read from another
 * thread: nothing lost, nothing reordered, and clean under ThreadSanitizer. */
static void test_changes_under_traffic(void **state)
{
    fixture *fx = *state;
    flipper fl;
    pthread_t reader;
    void *bad = NULL;
    enum { N = 400 };

    fx->echo[0] = echo_start("");
    start_proxy(fx, &fx->echo[0]->ep);
    fl.proxy = fx->proxy;
    atomic_init(&fl.stop, 0);
    assert_int_equal(pthread_create(&reader, NULL, read_counters, &fl), 0);
    int fd = client(fx);
    for (int i = 0; i < N; i += 10) {
        send_numbered(fd, i, 10, 0);
        ovs_proxy_set_mode(fx->proxy, (i / 10) % 2 ? OVS_PROXY_PASS : OVS_PROXY_STALL);
        ovs_proxy_set_latency(fx->proxy, (i / 10) % 3 + 1, (i % 7) * OVS_NS_PER_MS,
                              OVS_NS_PER_MS, (uint64_t)i);
        ovs_sleep_ns(OVS_NS_PER_MS);
    }
    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_PASS);
    expect_numbered(fd, 0, N);
    atomic_store(&fl.stop, 1);
    pthread_join(reader, &bad);
    assert_null(bad);
}

/* ---------------------------------------------------------------------------------------
 * Tests with a real redis-server. */

static void start_redis(fixture *fx)
{
    ovs_fleet_opts o = { .nodes = 1 };
    char err[256] = "";
    int rc = ovs_fleet_start(&o, &fx->fleet, err, sizeof(err));
    if (rc != OVS_OK)
        fail_msg("ovs_fleet_start: %d: %s", rc, err);
}

static redisContext *redis_via(const ovs_endpoint *ep, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, tv);
    assert_non_null(c);
    if (c->err)
        fail_msg("connect %s:%d: %s", ep->host, ep->port, c->errstr);
    assert_int_equal(redisSetTimeout(c, tv), REDIS_OK);
    return c;
}

static void expect_pong(redisContext *c)
{
    redisReply *r = redisCommand(c, "PING");
    if (r == NULL)
        fail_msg("PING: %s", c->errstr);
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    assert_true(ok);
}

/* PING through the proxy, then through a replies-only delay. */
static void test_redis_through_proxy(void **state)
{
    fixture *fx = *state;
    int64_t rtt[ROUNDS];

    OVS_REQUIRE_REDIS();
    start_redis(fx);
    start_proxy(fx, &ovs_fleet_endpoints(fx->fleet)[0]);
    fx->redis[0] = redis_via(ovs_proxy_endpoint(fx->proxy), 2000);
    expect_pong(fx->redis[0]);

    ovs_proxy_set_latency(fx->proxy, OVS_PROXY_DOWN, 30 * OVS_NS_PER_MS, 0, 5);
    for (int i = 0; i < ROUNDS; i++) {
        int64_t t0 = ovs_now_ns();
        expect_pong(fx->redis[0]);
        rtt[i] = ovs_now_ns() - t0;
        assert_true(rtt[i] >= 30 * OVS_NS_PER_MS);
    }
    assert_true(median(rtt, ROUNDS) < 70 * OVS_NS_PER_MS);
}

/* A cut link looks like a timeout to hiredis, and what was sent during it never runs:
 * the INCR is discarded, not held for later as a SIGSTOPped node would. */
static void test_redis_cut(void **state)
{
    fixture *fx = *state;

    OVS_REQUIRE_REDIS();
    start_redis(fx);
    start_proxy(fx, &ovs_fleet_endpoints(fx->fleet)[0]);
    fx->redis[0] = redis_via(ovs_proxy_endpoint(fx->proxy), 100);
    expect_pong(fx->redis[0]);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_CUT);
    int64_t t0 = ovs_now_ns();
    redisReply *r = redisCommand(fx->redis[0], "INCR cutkey");
    int64_t took = ovs_now_ns() - t0;
    if (r != NULL) {
        freeReplyObject(r);
        fail_msg("INCR answered through a cut link");
    }
    assert_int_equal(fx->redis[0]->err, REDIS_ERR_IO); /* hiredis' timeout */
    assert_true(took >= 90 * OVS_NS_PER_MS);
    ovs_sleep_ns(100 * OVS_NS_PER_MS);

    ovs_proxy_set_mode(fx->proxy, OVS_PROXY_PASS);
    fx->redis[1] = redis_via(ovs_proxy_endpoint(fx->proxy), 2000);
    expect_pong(fx->redis[1]);
    r = redisCommand(fx->redis[1], "EXISTS cutkey");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long exists = r->integer;
    freeReplyObject(r);
    assert_int_equal(exists, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuses_non_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_down_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_under_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_then_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_drops_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retarget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_open_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_under_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_through_proxy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_cut, setup, teardown),
    };
    return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
