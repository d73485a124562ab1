/* proxy.c - the in-harness TCP fault proxy: latency, stall and cut on real connections.
 *
 * Replication lag and a client cut off from chosen nodes (link faults) have to be made with
 * real sockets between real processes, or the strategies under test would be judged
 * against a simulation of the network instead of the network. Each proxy is one thread
 * running ppoll() over its listener, an eventfd for control, and both sockets of every
 * connection it carries.
 *
 * Bytes are never forwarded straight through. Every read becomes a chunk with a due time
 * on the monotonic clock, appended to the queue of its direction; the thread delivers a
 * chunk once it is due and the mode is PASS. A chunk is due no earlier than the one before
 * it, so jitter delays chunks without ever reordering them, exactly as TCP would. ppoll
 * sleeps until the earliest due chunk, with nanosecond resolution, so a 25 ms latency is
 * 25 ms and not "the next millisecond tick after it".
 *
 * The modes, and why they behave as they do:
 *
 *  - PASS delivers due chunks. A source that ends (FIN or reset) is queued like data: the
 *    pair is closed once everything read before it has been delivered, so a reply sent
 *    just before a close is not lost to latency.
 *  - STALL keeps reading into the queues and delivers nothing; back to PASS, the held bytes
 *    go out in order (their due times have passed). Like a stalled TCP peer whose window
 *    fills, a direction stops being read when PROXY_FLOW_MAX bytes are held, which bounds
 *    memory without closing anything.
 *  - CUT reads and discards in both directions, and also throws away whatever was queued
 *    when the cut began (packets in flight are lost in a partition). The connections stay
 *    open and silent: a client sees its own timeout, never a reset, even when the far side
 *    closes or cannot be reached during the cut. That silence is the point: a node paused
 *    with SIGSTOP would keep a request in its socket buffer and execute it later, which is
 *    not what a partition does.
 *  - Leaving CUT closes every connection that lost bytes (or a side) to it. A TCP stream
 *    with a hole in it does not exist; a client that reused one would read the reply to
 *    one request as the reply to another, a silent wrong answer in a harness whose job is
 *    to find wrong answers. Connections through which nothing was sent during the cut
 *    carry on.
 *
 * Control calls (mode, latency, retarget, stop) change the wanted settings under a mutex,
 * wake the thread through the eventfd and wait until it has applied them. So when
 * ovs_proxy_set_mode(p, OVS_PROXY_CUT) returns, not one more byte is delivered, and when
 * ovs_proxy_retarget returns, the old connections are closed: a fault injector can rely on
 * the order of its own actions.
 *
 * Only loopback upstreams (127.0.0.0/8) are accepted: the harness must never become a
 * relay to anywhere else. A refused retarget leaves the proxy closing every connection it
 * accepts, rather than quietly carrying on to the old upstream. */
#include "infra/proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/util.h"

#define PROXY_HOST "127.0.0.1"
#define PROXY_BACKLOG 128
#define PROXY_MAX_PAIRS 1024                  /* connections at once; more wait in backlog */
#define PROXY_READ_SIZE (64 * 1024)           /* one recv(), at most one chunk */
#define PROXY_READ_ROUND (256 * 1024)         /* per socket per wake-up, so one busy
                                                 connection cannot starve the others */
#define PROXY_FLOW_MAX ((size_t)32 << 20)     /* bytes held per direction (64 MiB a pair) */
#define PROXY_CONNECT_NS (2 * OVS_NS_PER_S)   /* upstream connect must finish this soon */
#define PROXY_RETRY_NS (100 * OVS_NS_PER_MS)  /* pause after accept or ppoll ran out of fds
                                                 or memory, instead of spinning */

/* A pair's sockets are indexed by side, and its two flows by the side they read from:
 * flow d reads fd[d] and writes fd[1 - d]. Flow 0 is client -> upstream (OVS_PROXY_UP),
 * flow 1 is upstream -> client (OVS_PROXY_DOWN). */
enum { SIDE_CLIENT = 0, SIDE_UPSTREAM = 1 };

typedef struct chunk {
    struct chunk *next; /* the chunk read after this one, same direction */
    int64_t due;        /* monotonic ns when it may be delivered */
    size_t len;         /* bytes in data */
    size_t off;         /* bytes of data already delivered (a partial send) */
    char data[];
} chunk;

typedef struct flow {
    chunk *head, *tail; /* queue in read order; head is delivered first */
    size_t queued;      /* bytes read and not yet delivered */
    int64_t last_due;   /* due time of the last chunk queued; the next is due no earlier */
    int eof;            /* the source ended (FIN or error); it is no longer read */
    int64_t eof_due;    /* when that end is delivered as a close of the pair */
} flow;

typedef struct pair {
    int fd[2];                /* by side; -1 once closed (in CUT one side may be gone) */
    int connecting;           /* fd[SIDE_UPSTREAM] has a connect() in progress */
    int64_t connect_deadline; /* monotonic ns when a pending connect is given up */
    int lost;                 /* a cut discarded bytes or a side: close when it ends */
    flow f[2];                /* by the side read from */
} pair;

/* What the control calls set and the thread applies. */
typedef struct settings {
    enum ovs_proxy_mode mode;
    int64_t latency[2];      /* by flow: ns added to every chunk */
    int64_t jitter[2];       /* by flow: uniform +/- this much */
    uint64_t seed;           /* for the jitter generator */
    uint64_t latency_epoch;  /* bumped by set_latency: reseed */
    struct sockaddr_in upstream;
    int upstream_ok;         /* 0 after a refused retarget: close new clients at once */
    uint64_t target_epoch;   /* bumped by retarget: close every pair */
    int stop;
} settings;

struct ovs_proxy {
    ovs_endpoint ep;   /* where clients connect; written before the thread starts */
    int listen_fd;
    int wake_fd;       /* eventfd: a control call writes, the thread drains */
    pthread_t thread;

    /* Shared with the control calls. A control call changes want, bumps gen and waits for
     * done to reach it; the thread copies want, applies it, and publishes done. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    settings want;     /* guarded by mu */
    uint64_t gen;      /* guarded by mu: control calls made */
    uint64_t done;     /* guarded by mu: control calls applied by the thread */
    int exited;        /* guarded by mu: the thread has returned; nobody waits on it */

    /* Bytes delivered, by flow. Relaxed: they are statistics, read without any ordering
     * claim against the data itself. */
    atomic_uint_least64_t bytes[2];

    /* Owned by the thread alone once it runs. */
    settings cur;            /* the settings in force */
    ovs_rng rng;             /* jitter */
    pair **pairs;            /* PROXY_MAX_PAIRS slots, npairs used */
    int npairs;
    struct pollfd *pfd;      /* 2 + 2 * PROXY_MAX_PAIRS */
    char *buf;               /* PROXY_READ_SIZE bytes of scratch for recv() */
    int64_t accept_resume;   /* do not accept before this (after EMFILE and the like) */
};

/* ---------------------------------------------------------------------------------------
 * Addresses. */

/* Only 127.0.0.0/8, spelled as an address or as "localhost". */
static int loopback_addr(const ovs_endpoint *ep, struct sockaddr_in *sa, char *err,
                         size_t errlen)
{
    const char *host;

    if (ep == NULL) {
        ovs_seterr(err, errlen, "proxy: no upstream");
        return -1;
    }
    host = strcmp(ep->host, "localhost") == 0 ? PROXY_HOST : ep->host;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        ovs_seterr(err, errlen, "proxy: upstream host '%.63s' is not an IPv4 address",
                   ep->host);
        return -1;
    }
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
        ovs_seterr(err, errlen, "proxy: upstream %.63s is not a loopback address (127.0.0.0/8)",
                   ep->host);
        return -1;
    }
    if (ep->port <= 0 || ep->port > 65535) {
        ovs_seterr(err, errlen, "proxy: upstream port %d out of range", ep->port);
        return -1;
    }
    sa->sin_port = htons((uint16_t)ep->port);
    return 0;
}

/* Small writes must leave at once: Nagle's algorithm would hold a reply back until the
 * previous one is acknowledged and add tens of milliseconds the scenario never asked for. */
static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---------------------------------------------------------------------------------------
 * Queues. */

static void flow_clear(flow *f)
{
    chunk *c = f->head;
    while (c != NULL) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    f->head = f->tail = NULL;
    f->queued = 0;
}

/* Due time of the next chunk of flow d read now: latency +/- jitter, never before the
 * chunk ahead of it. */
static int64_t flow_due(ovs_proxy *p, flow *f, int d, int64_t now)
{
    int64_t delay = p->cur.latency[d];
    int64_t jitter = p->cur.jitter[d];

    if (jitter > 0)
        delay += (int64_t)ovs_rng_below(&p->rng, (uint64_t)jitter * 2 + 1) - jitter;
    if (delay < 0)
        delay = 0;
    int64_t due = now + delay;
    if (due < f->last_due)
        due = f->last_due;
    f->last_due = due;
    return due;
}

static void pair_close(pair *pr)
{
    for (int s = 0; s < 2; s++) {
        if (pr->fd[s] >= 0)
            close(pr->fd[s]);
        pr->fd[s] = -1;
        flow_clear(&pr->f[s]);
    }
    pr->connecting = 0;
}

/* Side s is gone while the link is cut: close just that socket and keep the other one
 * open and silent; the pair is closed for good when the cut ends. */
static void pair_drop_side(pair *pr, int s)
{
    if (pr->fd[s] >= 0)
        close(pr->fd[s]);
    pr->fd[s] = -1;
    if (s == SIDE_UPSTREAM)
        pr->connecting = 0;
    pr->lost = 1;
}

/* ---------------------------------------------------------------------------------------
 * Moving bytes. */

/* Deliver the due chunks of flow d. Returns with the head not due, or the destination
 * full (the caller polls for POLLOUT), or the pair closed. */
static void flow_deliver(ovs_proxy *p, pair *pr, int d, int64_t now, int64_t *next)
{
    flow *f = &pr->f[d];
    int dst = pr->fd[1 - d];

    if (p->cur.mode != OVS_PROXY_PASS || dst < 0)
        return;
    if (d == SIDE_CLIENT && pr->connecting)
        return; /* the connect's completion wakes us */
    while (f->head != NULL && f->head->due <= now) {
        chunk *c = f->head;
        ssize_t n = send(dst, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            pair_close(pr); /* the destination is gone; so is the point of the pair */
            return;
        }
        atomic_fetch_add_explicit(&p->bytes[d], (uint64_t)n, memory_order_relaxed);
        c->off += (size_t)n;
        f->queued -= (size_t)n;
        if (c->off < c->len)
            return; /* partial: the rest waits for POLLOUT */
        f->head = c->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(c);
    }
    if (f->head != NULL) {
        if (f->head->due < *next)
            *next = f->head->due;
    } else if (f->eof) {
        if (now >= f->eof_due)
            pair_close(pr);
        else if (f->eof_due < *next)
            *next = f->eof_due;
    }
}

/* The source of flow d ended: an end of stream or an error, which a read reports alike. */
static void flow_source_done(ovs_proxy *p, pair *pr, int d, int64_t now)
{
    if (p->cur.mode == OVS_PROXY_CUT) {
        pair_drop_side(pr, d); /* the FIN is lost in the partition too */
        return;
    }
    pr->f[d].eof = 1;
    pr->f[d].eof_due = flow_due(p, &pr->f[d], d, now);
}

/* Read what side s has, into its flow's queue or, while cut, into the void. */
static void flow_read(ovs_proxy *p, pair *pr, int s, int64_t now)
{
    flow *f = &pr->f[s];
    size_t round = 0;

    while (round < PROXY_READ_ROUND && pr->fd[s] >= 0) {
        int cut = p->cur.mode == OVS_PROXY_CUT;
        if (!cut && f->queued >= PROXY_FLOW_MAX)
            return;
        ssize_t n = recv(pr->fd[s], p->buf, PROXY_READ_SIZE, 0);
        if (n > 0) {
            round += (size_t)n;
            if (cut) {
                pr->lost = 1;
                continue;
            }
            chunk *c = malloc(sizeof(*c) + (size_t)n);
            if (c == NULL) {
                pair_close(pr); /* dropping bytes silently would corrupt the stream */
                return;
            }
            memcpy(c->data, p->buf, (size_t)n);
            c->next = NULL;
            c->len = (size_t)n;
            c->off = 0;
            c->due = flow_due(p, f, s, now);
            if (f->tail != NULL)
                f->tail->next = c;
            else
                f->head = c;
            f->tail = c;
            f->queued += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        flow_source_done(p, pr, s, now);
        return;
    }
}

static void upstream_failed(ovs_proxy *p, pair *pr)
{
    if (p->cur.mode == OVS_PROXY_CUT)
        pair_drop_side(pr, SIDE_UPSTREAM);
    else
        pair_close(pr);
}

static void connect_finish(ovs_proxy *p, pair *pr)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(pr->fd[SIDE_UPSTREAM], SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
        soerr != 0) {
        upstream_failed(p, pr);
        return;
    }
    pr->connecting = 0;
}

/* Deadlines, deliveries and closes that are due; *next gets the earliest future time
 * anything in this pair is due. */
static void pair_service(ovs_proxy *p, pair *pr, int64_t now, int64_t *next)
{
    if (p->cur.mode != OVS_PROXY_CUT && (pr->fd[0] < 0 || pr->fd[1] < 0)) {
        pair_close(pr);
        return;
    }
    if (pr->connecting) {
        if (now >= pr->connect_deadline) {
            upstream_failed(p, pr);
            if (pr->fd[0] < 0)
                return;
        } else if (pr->connect_deadline < *next) {
            *next = pr->connect_deadline;
        }
    }
    for (int d = 0; d < 2 && pr->fd[0] >= 0; d++)
        flow_deliver(p, pr, d, now, next);
}

/* ---------------------------------------------------------------------------------------
 * Connections. */

static void accept_all(ovs_proxy *p, int64_t now)
{
    while (p->npairs < PROXY_MAX_PAIRS) {
        int cfd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                p->accept_resume = now + PROXY_RETRY_NS; /* out of fds: back off */
            return;
        }
        if (!p->cur.upstream_ok) {
            close(cfd);
            continue;
        }
        pair *pr = calloc(1, sizeof(*pr));
        int ufd = pr != NULL ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
                             : -1;
        if (ufd < 0) {
            free(pr);
            close(cfd);
            p->accept_resume = now + PROXY_RETRY_NS;
            return;
        }
        set_nodelay(cfd);
        set_nodelay(ufd);
        pr->fd[SIDE_CLIENT] = cfd;
        pr->fd[SIDE_UPSTREAM] = ufd;
        p->pairs[p->npairs++] = pr;
        if (connect(ufd, (const struct sockaddr *)&p->cur.upstream,
                    sizeof(p->cur.upstream)) == 0)
            continue;
        if (errno == EINPROGRESS || errno == EINTR) {
            pr->connecting = 1;
            pr->connect_deadline = now + PROXY_CONNECT_NS;
        } else {
            upstream_failed(p, pr); /* refused: the client is closed, or silent if cut */
        }
    }
}

/* Free the pairs that have no socket left, keeping the others in order. */
static void sweep(ovs_proxy *p)
{
    int k = 0;
    for (int i = 0; i < p->npairs; i++) {
        pair *pr = p->pairs[i];
        if (pr->fd[0] < 0 && pr->fd[1] < 0) {
            pair_close(pr);
            free(pr);
        } else {
            p->pairs[k++] = pr;
        }
    }
    p->npairs = k;
}

static void close_all(ovs_proxy *p)
{
    for (int i = 0; i < p->npairs; i++)
        pair_close(p->pairs[i]);
    sweep(p);
}

/* ---------------------------------------------------------------------------------------
 * Control. */

/* Caller holds p->mu and has changed p->want. Wakes the thread and waits until it has
 * applied this change (or has exited), so the change is in force when a control call
 * returns. Waiting is unbounded but short: the thread never blocks anywhere but ppoll,
 * which the eventfd interrupts. */
static void control_commit(ovs_proxy *p)
{
    uint64_t my = ++p->gen;
    uint64_t one = 1;

    /* An eventfd write only fails when the counter would overflow, and then the thread is
     * awake anyway. */
    (void)!write(p->wake_fd, &one, sizeof(one));
    while (p->done < my && !p->exited)
        pthread_cond_wait(&p->cv, &p->mu);
}

/* Bring cur up to want. Returns 1 when the thread must stop. */
static int apply_control(ovs_proxy *p)
{
    settings w, old;
    uint64_t g;

    pthread_mutex_lock(&p->mu);
    g = p->gen;
    if (g == p->done) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    w = p->want;
    pthread_mutex_unlock(&p->mu);

    old = p->cur;
    p->cur = w;
    if (w.stop)
        return 1;
    if (w.latency_epoch != old.latency_epoch)
        ovs_rng_seed(&p->rng, w.seed);
    if (w.target_epoch != old.target_epoch)
        close_all(p);
    if (w.mode == OVS_PROXY_CUT && old.mode != OVS_PROXY_CUT) {
        /* Whatever was in flight is lost, a pending end of stream included. */
        for (int i = 0; i < p->npairs; i++) {
            pair *pr = p->pairs[i];
            for (int d = 0; d < 2; d++) {
                if (pr->f[d].queued > 0)
                    pr->lost = 1;
                flow_clear(&pr->f[d]);
                if (pr->f[d].eof) {
                    pr->f[d].eof = 0;
                    pair_drop_side(pr, d);
                }
            }
        }
    } else if (w.mode != OVS_PROXY_CUT && old.mode == OVS_PROXY_CUT) {
        for (int i = 0; i < p->npairs; i++) {
            pair *pr = p->pairs[i];
            if (pr->lost || pr->fd[0] < 0 || pr->fd[1] < 0)
                pair_close(pr);
        }
    }
    sweep(p);

    pthread_mutex_lock(&p->mu);
    p->done = g;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The thread. */

static short pair_events(const ovs_proxy *p, const pair *pr, int s, int64_t now)
{
    short ev = 0;
    const flow *in = &pr->f[s];      /* read from this side */
    const flow *out = &pr->f[1 - s]; /* written to this side */

    if (pr->fd[s] < 0)
        return 0;
    if (s == SIDE_UPSTREAM && pr->connecting)
        return POLLOUT;
    if (!in->eof && (p->cur.mode == OVS_PROXY_CUT || in->queued < PROXY_FLOW_MAX))
        ev |= POLLIN;
    /* A due chunk still queued after delivery means the socket was full. */
    if (p->cur.mode == OVS_PROXY_PASS && out->head != NULL && out->head->due <= now &&
        !(s == SIDE_CLIENT && pr->connecting))
        ev |= POLLOUT;
    return ev;
}

static void *proxy_main(void *arg)
{
    ovs_proxy *p = arg;

    while (!apply_control(p)) {
        int64_t now = ovs_now_ns();
        int64_t next = INT64_MAX;

        for (int i = 0; i < p->npairs; i++)
            pair_service(p, p->pairs[i], now, &next);
        sweep(p);

        int npolled = p->npairs;
        int accepting = p->npairs < PROXY_MAX_PAIRS && now >= p->accept_resume;
        if (!accepting && p->npairs < PROXY_MAX_PAIRS && p->accept_resume < next)
            next = p->accept_resume;
        p->pfd[0] = (struct pollfd){ .fd = p->wake_fd, .events = POLLIN };
        p->pfd[1] = (struct pollfd){ .fd = accepting ? p->listen_fd : -1, .events = POLLIN };
        for (int i = 0; i < npolled; i++) {
            for (int s = 0; s < 2; s++) {
                /* fd -1 when nothing is wanted: otherwise POLLHUP on a socket we are not
                 * reading (held back, or already at end of stream) would spin the loop. */
                short ev = pair_events(p, p->pairs[i], s, now);
                p->pfd[2 + 2 * i + s] =
                    (struct pollfd){ .fd = ev != 0 ? p->pairs[i]->fd[s] : -1, .events = ev };
            }
        }

        struct timespec ts, *tsp = NULL;
        if (next != INT64_MAX) {
            int64_t wait = next - ovs_now_ns();
            if (wait < 0)
                wait = 0;
            ts.tv_sec = (time_t)(wait / OVS_NS_PER_S);
            ts.tv_nsec = (long)(wait % OVS_NS_PER_S);
            tsp = &ts;
        }
        int n = ppoll(p->pfd, (nfds_t)(2 + 2 * npolled), tsp, NULL);
        if (n < 0) {
            if (errno != EINTR)
                ovs_sleep_ns(PROXY_RETRY_NS / 10); /* ENOMEM: let the kernel recover */
            continue;
        }
        if (n == 0)
            continue;
        if (p->pfd[0].revents != 0) {
            uint64_t v;
            (void)!read(p->wake_fd, &v, sizeof(v));
        }

        now = ovs_now_ns();
        for (int i = 0; i < npolled; i++) {
            pair *pr = p->pairs[i];
            for (int s = 0; s < 2; s++) {
                const struct pollfd *q = &p->pfd[2 + 2 * i + s];
                if (q->revents == 0 || pr->fd[s] < 0 || q->fd != pr->fd[s])
                    continue;
                if (s == SIDE_UPSTREAM && pr->connecting)
                    connect_finish(p, pr);
                else if ((q->events & POLLIN) && (q->revents & (POLLIN | POLLHUP | POLLERR)))
                    flow_read(p, pr, s, now);
                /* POLLOUT needs nothing here: the next pass delivers. */
            }
        }
        sweep(p);
        if (p->pfd[1].revents != 0)
            accept_all(p, now);
    }
    close_all(p);

    pthread_mutex_lock(&p->mu);
    p->exited = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * The interface. */

int ovs_proxy_start(const ovs_endpoint *upstream, ovs_proxy **out, char *err, size_t errlen)
{
    struct sockaddr_in up, sa = { .sin_family = AF_INET };
    socklen_t salen = sizeof(sa);
    ovs_proxy *p;
    int one = 1, rc;
    sigset_t all, saved;

    *out = NULL;
    if (loopback_addr(upstream, &up, err, errlen) != 0)
        return -1;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        ovs_seterr(err, errlen, "proxy: out of memory");
        return -1;
    }
    p->listen_fd = p->wake_fd = -1;
    p->pairs = calloc(PROXY_MAX_PAIRS, sizeof(*p->pairs));
    p->pfd = calloc(2 + 2 * (size_t)PROXY_MAX_PAIRS, sizeof(*p->pfd));
    p->buf = malloc(PROXY_READ_SIZE);
    if (p->pairs == NULL || p->pfd == NULL || p->buf == NULL) {
        ovs_seterr(err, errlen, "proxy: out of memory");
        goto fail;
    }

    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0) {
        ovs_seterr(err, errlen, "proxy: socket: %s", strerror(errno));
        goto fail;
    }
    (void)setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, PROXY_HOST, &sa.sin_addr);
    sa.sin_port = 0;
    if (bind(p->listen_fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->listen_fd, PROXY_BACKLOG) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&sa, &salen) != 0) {
        ovs_seterr(err, errlen, "proxy: listen on %s: %s", PROXY_HOST, strerror(errno));
        goto fail;
    }
    snprintf(p->ep.host, sizeof(p->ep.host), "%s", PROXY_HOST);
    p->ep.port = ntohs(sa.sin_port);

    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0) {
        ovs_seterr(err, errlen, "proxy: eventfd: %s", strerror(errno));
        goto fail;
    }

    p->want.mode = OVS_PROXY_PASS;
    p->want.upstream = up;
    p->want.upstream_ok = 1;
    p->cur = p->want;
    atomic_init(&p->bytes[0], 0);
    atomic_init(&p->bytes[1], 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);

    /* The thread inherits the creator's signal mask: block the asynchronous signals so
     * that SIGINT and friends are handled by the harness's own threads, never by a proxy
     * in the middle of ppoll. The synchronous ones stay deliverable. */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    rc = pthread_create(&p->thread, NULL, proxy_main, p);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        ovs_seterr(err, errlen, "proxy: pthread_create: %s", strerror(rc));
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        goto fail;
    }
    *out = p;
    return 0;

fail:
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    free(p->pairs);
    free(p->pfd);
    free(p->buf);
    free(p);
    return -1;
}

const ovs_endpoint *ovs_proxy_endpoint(const ovs_proxy *p)
{
    return &p->ep;
}

/* The call describes the whole latency configuration: directions not in dirs get none.
 * Chunks already queued keep the due times they were given. */
void ovs_proxy_set_latency(ovs_proxy *p, int dirs, int64_t latency_ns, int64_t jitter_ns,
                           uint64_t seed)
{
    if (latency_ns < 0)
        latency_ns = 0;
    if (jitter_ns < 0)
        jitter_ns = 0;
    pthread_mutex_lock(&p->mu);
    p->want.latency[0] = (dirs & OVS_PROXY_UP) ? latency_ns : 0;
    p->want.jitter[0] = (dirs & OVS_PROXY_UP) ? jitter_ns : 0;
    p->want.latency[1] = (dirs & OVS_PROXY_DOWN) ? latency_ns : 0;
    p->want.jitter[1] = (dirs & OVS_PROXY_DOWN) ? jitter_ns : 0;
    p->want.seed = seed;
    p->want.latency_epoch++;
    control_commit(p);
    pthread_mutex_unlock(&p->mu);
}

void ovs_proxy_set_mode(ovs_proxy *p, enum ovs_proxy_mode mode)
{
    pthread_mutex_lock(&p->mu);
    p->want.mode = mode;
    control_commit(p);
    pthread_mutex_unlock(&p->mu);
}

void ovs_proxy_retarget(ovs_proxy *p, const ovs_endpoint *upstream)
{
    struct sockaddr_in up;
    int ok = loopback_addr(upstream, &up, NULL, 0) == 0;

    pthread_mutex_lock(&p->mu);
    if (ok)
        p->want.upstream = up;
    p->want.upstream_ok = ok;
    p->want.target_epoch++;
    control_commit(p);
    pthread_mutex_unlock(&p->mu);
}

void ovs_proxy_counters(ovs_proxy *p, uint64_t *up, uint64_t *down)
{
    if (up != NULL)
        *up = atomic_load_explicit(&p->bytes[0], memory_order_relaxed);
    if (down != NULL)
        *down = atomic_load_explicit(&p->bytes[1], memory_order_relaxed);
}

void ovs_proxy_stop(ovs_proxy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->want.stop = 1;
    control_commit(p);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);

    close(p->listen_fd);
    close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->pairs);
    free(p->pfd);
    free(p->buf);
    free(p);
}
