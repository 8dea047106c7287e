/* proxy_pool.c - one worker's upstream connections: idle keep-alive pools, busy counts, queues. */
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "handlers/proxy_internal.h"

/* One upstream of one route, in one worker. */
struct proxy_up_state {
    struct proxy_conn *idle_first, *idle_last; /* oldest first */
    unsigned n_idle;
    unsigned n_busy; /* owned by requests: counted against max_conns */
};

/* A request queued for max_conns, on its coroutine's stack. */
struct proxy_waiter {
    struct coro *co;
    struct proxy_waiter *next;
    bool woken;
};

struct proxy_route_state {
    uint64_t keepalive_timeout_ms; /* of the route's conf, for the keeper */
    struct proxy_up_state ups[PROXY_MAX_UPSTREAMS];
    struct proxy_balancer balancer;
    struct proxy_waiter *waiters; /* queued for max_conns, woken all at once */
};

/*
 * The keeper is a coroutine of the worker's loop that closes idle
 * connections when their keepalive_timeout passes; it exists while the pool
 * has been used. Teardown on a live loop closes the idle connections and
 * leaves the struct to the keeper to free; when the loop itself goes away,
 * it cancels the keeper, which closes them first.
 */
struct proxy_worker {
    struct loop *loop;    /* set by the first connection pooled */
    struct coro *keeper;  /* NULL when not running */
    uint64_t keeper_wake; /* when the keeper wakes next; 0: only when woken */
    bool keeper_woken;    /* loop_wakeup() is pending */
    bool torn_down;       /* the keeper frees the struct */
    size_t n_routes;
    struct proxy_route_state routes[];
};

int proxy_worker_init(void **worker, size_t n_routes)
{
    struct proxy_worker *pw = calloc(1, sizeof *pw + n_routes * sizeof pw->routes[0]);

    if (!pw)
        return -ENOMEM;
    pw->n_routes = n_routes;
    *worker = pw;
    return 0;
}

/* Makes pc a request's: counted in its worker and in every worker's total. */
static void conn_take(struct proxy_conn *pc, struct proxy_shared *s)
{
    pc->busy = true;
    pc->shared = s;
    pc->pw->routes[pc->route].ups[pc->up].n_busy++;
    atomic_fetch_add_explicit(&s->ups[pc->up].active, 1, memory_order_relaxed);
}

/* pc is no longer a request's: the requests queued for max_conns look again. */
static void conn_release(struct proxy_conn *pc)
{
    struct proxy_route_state *rs = &pc->pw->routes[pc->route];
    struct proxy_waiter *w;

    if (!pc->busy)
        return;
    pc->busy = false;
    rs->ups[pc->up].n_busy--;
    atomic_fetch_sub_explicit(&pc->shared->ups[pc->up].active, 1, memory_order_relaxed);
    while ((w = rs->waiters)) {
        rs->waiters = w->next;
        w->woken = true;
        loop_wakeup(pc->pw->loop, w->co);
    }
}

void proxy_conn_close(struct proxy_conn *pc)
{
    conn_release(pc);
    if (pc->w.loop)
        loop_watch_del(&pc->w);
    close(pc->w.fd);
    free(pc);
}

static void idle_unlink(struct proxy_conn *pc)
{
    struct proxy_up_state *us = &pc->pw->routes[pc->route].ups[pc->up];

    *(pc->prev ? &pc->prev->next : &us->idle_first) = pc->next;
    *(pc->next ? &pc->next->prev : &us->idle_last) = pc->prev;
    pc->prev = pc->next = NULL;
    us->n_idle--;
    atomic_fetch_sub_explicit(&pc->shared->ups[pc->up].idle, 1, memory_order_relaxed);
    pc->w.on_event = NULL;
}

/* Closes idle connections idle since before now - timeout (all when all);
 * returns the earliest time one of those left expires, 0 when none is left. */
static uint64_t pool_sweep(struct proxy_worker *pw, uint64_t now, bool all)
{
    uint64_t next = 0;

    for (size_t r = 0; r < pw->n_routes; r++) {
        struct proxy_route_state *rs = &pw->routes[r];

        for (size_t u = 0; u < PROXY_MAX_UPSTREAMS; u++) {
            struct proxy_conn *pc;

            while ((pc = rs->ups[u].idle_first) &&
                   (all || pc->idle_since + rs->keepalive_timeout_ms <= now)) {
                idle_unlink(pc);
                proxy_conn_close(pc);
            }
            if (pc && (next == 0 || pc->idle_since + rs->keepalive_timeout_ms < next))
                next = pc->idle_since + rs->keepalive_timeout_ms;
        }
    }
    return next;
}

static void keeper_end(void *arg)
{
    struct proxy_worker *pw = arg;

    pool_sweep(pw, 0, true);
    pw->keeper = NULL;
    if (pw->torn_down)
        free(pw);
}

static void keeper_main(struct coro *co, void *arg)
{
    struct proxy_worker *pw = arg;

    if (coro_defer(co, keeper_end, pw) < 0) {
        pw->keeper = NULL;
        return;
    }
    while (!pw->torn_down) {
        pw->keeper_wake = pool_sweep(pw, loop_now(pw->loop), false);
        pw->keeper_woken = false;
        loop_wait(pw->loop, NULL, NULL, 0, pw->keeper_wake);
    }
}

void proxy_worker_teardown(void *worker)
{
    struct proxy_worker *pw = worker;

    if (!pw->keeper) {
        /* Never pooled anything, or the loop is gone and the keeper with
         * it (it closed the idle connections). */
        free(pw);
        return;
    }
    pool_sweep(pw, 0, true);
    pw->torn_down = true;
    if (!pw->keeper_woken)
        loop_wakeup(pw->loop, pw->keeper);
    pw->keeper_woken = true;
}

/* An idle connection that becomes readable or hangs up is of no more use:
 * the upstream closed it, or sent what nobody asked for. */
static void idle_event(struct loop_watch *w, uint32_t events)
{
    struct proxy_conn *pc = (struct proxy_conn *)w;

    if (!(events & (LOOP_READ | LOOP_HUP | LOOP_EOF)))
        return; /* writable: nothing to say */
    idle_unlink(pc);
    proxy_conn_close(pc);
}

/* True when the peer closed pc or sent something: a peek that finds no
 * byte and no end of file. */
static bool conn_stale(const struct proxy_conn *pc)
{
    char c;
    ssize_t n = recv(pc->w.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

struct proxy_conn *proxy_pool_get(struct proxy_worker *pw, struct loop *loop,
                                  struct proxy_shared *s, size_t up, bool peek)
{
    struct proxy_up_state *us = &pw->routes[s->index].ups[up];
    uint64_t now = loop_now(loop);
    struct proxy_conn *pc;

    while ((pc = us->idle_last)) {
        idle_unlink(pc);
        if (pc->idle_since + s->conf->keepalive_timeout_ms > now && !(peek && conn_stale(pc))) {
            conn_take(pc, s);
            return pc;
        }
        proxy_conn_close(pc);
    }
    return NULL;
}

struct proxy_conn *proxy_connect(struct proxy_worker *pw, struct loop *loop, struct proxy_shared *s,
                                 size_t up, uint64_t deadline, int *err)
{
    const struct proxy_upstream *u = &s->conf->upstreams[up];
    struct proxy_conn *pc = calloc(1, sizeof *pc);
    int one = 1;

    if (!pc) {
        *err = -ENOMEM;
        return NULL;
    }
    *pc = (struct proxy_conn){.pw = pw, .route = s->index, .up = up};
    pw->loop = loop;
    pc->w.fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pc->w.fd < 0) {
        *err = -errno;
        free(pc);
        return NULL;
    }
    if (u->addr.ss_family != AF_UNIX)
        setsockopt(pc->w.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_take(pc, s);
    *err = loop_watch_add(loop, &pc->w);
    if (*err == 0)
        *err = co_connect(&pc->w, (const struct sockaddr *)&u->addr, u->addr_len, deadline);
    if (*err < 0) {
        proxy_conn_close(pc);
        return NULL;
    }
    return pc;
}

/* Starts the keeper, or wakes it when pc expires before it would wake. */
static void keeper_notify(struct proxy_worker *pw, uint64_t expires)
{
    if (!pw->keeper) {
        pw->keeper_woken = false;
        pw->keeper = loop_spawn(pw->loop, keeper_main, pw);
        return; /* it ran until its first wait, which saw pc */
    }
    if (!pw->keeper_woken && (pw->keeper_wake == 0 || expires < pw->keeper_wake)) {
        loop_wakeup(pw->loop, pw->keeper);
        pw->keeper_woken = true;
    }
}

void proxy_pool_put(struct proxy_conn *pc, const struct proxy_conf *c)
{
    struct proxy_worker *pw = pc->pw;
    struct proxy_route_state *rs = &pw->routes[pc->route];
    struct proxy_up_state *us = &rs->ups[pc->up];

    conn_release(pc);
    /* No peek here: a connection the upstream closes in the meantime is
     * found by idle_event, by the peek of proxy_pool_get, or by
     * the failed exchange that the keep-alive race rule sends again. */
    if (c->keepalive == 0 || pw->torn_down) {
        proxy_conn_close(pc);
        return;
    }
    if (us->n_idle >= c->keepalive) {
        struct proxy_conn *oldest = us->idle_first;

        idle_unlink(oldest);
        proxy_conn_close(oldest);
    }
    pw->loop = pc->w.loop;
    rs->keepalive_timeout_ms = c->keepalive_timeout_ms;
    pc->idle_since = loop_now(pw->loop);
    pc->prev = us->idle_last;
    pc->next = NULL;
    *(us->idle_last ? &us->idle_last->next : &us->idle_first) = pc;
    us->idle_last = pc;
    us->n_idle++;
    atomic_fetch_add_explicit(&pc->shared->ups[pc->up].idle, 1, memory_order_relaxed);
    pc->w.on_event = idle_event;
    keeper_notify(pw, pc->idle_since + c->keepalive_timeout_ms);
}

struct proxy_balancer *proxy_worker_balancer(struct proxy_worker *pw, size_t route)
{
    return &pw->routes[route].balancer;
}

uint32_t proxy_pool_full(struct proxy_worker *pw, size_t route, const struct proxy_conf *c)
{
    uint32_t full = 0;

    if (c->max_conns == 0)
        return 0;
    for (size_t i = 0; i < c->n_upstreams; i++)
        if (pw->routes[route].ups[i].n_busy >= c->max_conns)
            full |= UINT32_C(1) << i;
    return full;
}

/* Waits for a wakeup or the deadline while the client is watched for
 * leaving (until it sends more, which keeps its socket readable): 0 woken
 * or at the deadline, -ECONNRESET when it left, or -errno. */
static int queue_wait_client(struct http_exchange *x, const struct proxy_waiter *me,
                             uint64_t deadline)
{
    bool watch = true;

    while (!me->woken && loop_now(x->loop) < deadline) {
        int r;

        if (!watch) {
            loop_wait(x->loop, NULL, NULL, 0, deadline);
            continue;
        }
        r = http_poll(x, LOOP_HUP, NULL, NULL, 0, deadline);
        if (r > 0 && http_client_gone(x))
            return -ECONNRESET;
        if (r > 0 || r == -ETIMEDOUT)
            watch = false; /* it sent more (it stays), or its rates ended the wait */
        else if (r < 0 && r != -ECANCELED)
            return r;
    }
    return 0;
}

int proxy_pool_queue_wait(struct proxy_worker *pw, struct http_exchange *x, size_t route,
                          uint64_t deadline)
{
    struct proxy_route_state *rs = &pw->routes[route];
    struct proxy_waiter me = {.co = loop_current(x->loop)}, **pp = &rs->waiters;
    int r;

    pw->loop = x->loop;
    while (*pp)
        pp = &(*pp)->next;
    *pp = &me;
    r = queue_wait_client(x, &me, deadline);
    if (me.woken)
        return 0;
    for (pp = &rs->waiters; *pp != &me; pp = &(*pp)->next)
        ;
    *pp = me.next;
    return r < 0 ? r : -ETIMEDOUT;
}
