/* exchange.c - what makes the exchange full-duplex: waiting on the client and other fds at
 * once, per-request cleanups, and handing the connection over after a 101. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/io.h"
#include "http/conn.h"
#include "http/exchange.h"

/* The most watches a handler may add to the client in one http_poll(). */
#define POLL_MAX_OTHERS 30

static struct conn_mem *xmem(const struct http_exchange *x) { return x->conn->mem; }

int http_exchange_defer(struct http_exchange *x, void (*fn)(void *data), void *data)
{
    struct conn_mem *m = xmem(x);

    if (m->ncleanups == HTTP_MAX_CLEANUPS)
        return -ENOMEM;
    m->cleanups[m->ncleanups++] = (struct conn_cleanup){.fn = fn, .data = data};
    return 0;
}

void http_exchange_set_upstream(struct http_exchange *x, const char *name, int64_t us)
{
    struct conn_mem *m = xmem(x);

    if (name != m->upstream) {
        size_t n = strnlen(name, sizeof m->upstream - 1);

        memcpy(m->upstream, name, n);
        m->upstream[n] = '\0';
    }
    x->upstream = m->upstream;
    x->upstream_us = us;
}

/* The directions of want in which the client is ready for the handler:
 * a body read would not wait, or a nowait write would take bytes. */
static uint32_t client_ready(const struct http_exchange *x, uint32_t want)
{
    const struct conn_mem *m = xmem(x);
    uint32_t sock = x->conn->w.ready & (LOOP_READ | LOOP_WRITE | LOOP_HUP);
    uint32_t ready = 0;

    if ((want & LOOP_READ) &&
        (m->body_done || m->body_errno || (m->bpos < m->rlen && !m->body_starved) ||
         (sock & (LOOP_READ | LOOP_HUP))))
        ready |= LOOP_READ;
    if ((want & LOOP_WRITE) && m->olen == 0 && (sock & (LOOP_WRITE | LOOP_HUP)))
        ready |= LOOP_WRITE;
    if ((want & LOOP_HUP) && (sock & (LOOP_READ | LOOP_HUP)))
        ready |= LOOP_HUP;
    return ready;
}

/* Bit 0 for the client, bit i + 1 for each of the others that is ready. */
static int poll_mask(const struct http_exchange *x, uint32_t client,
                     struct loop_watch *const *watches, const uint32_t *events, size_t n)
{
    int mask = client_ready(x, client) ? 1 : 0;

    for (size_t i = 0; i < n; i++) {
        if (watches[i]->ready & (events[i] | LOOP_HUP))
            mask |= 1 << (i + 1);
    }
    return mask;
}

/* Queued output that may leave now: not a head still being built. */
static size_t poll_pending(const struct http_exchange *x)
{
    return x->state == HTTP_RESP_HEAD ? x->head_start : xmem(x)->olen;
}

/* Gets the client's side of a poll going: 100 Continue for a reader, the
 * queued output sent as far as the socket takes it. Returns 0 or -errno. */
static int poll_client_prepare(struct http_exchange *x, uint32_t client)
{
    int r;

    if ((client & LOOP_READ) && (r = http_body_claim(x)) < 0)
        return r;
    return conn_flush_nowait(x->conn);
}

/* The client fell below min_body_rate or min_send_rate while the handler
 * waited on it: a body cut short is a 408 (if nothing was answered yet),
 * an output cut short leaves the connection broken. -ECONNABORTED, or 0
 * while the client keeps its rates. */
static int poll_rates_check(struct http_exchange *x)
{
    struct conn_mem *m = xmem(x);

    if (m->rates.in.tripped && !m->body_errno) {
        m->body_errno = -ETIMEDOUT;
        m->body_status = 408;
    }
    if (m->rates.out.tripped) {
        m->broken = true;
        x->keep_alive = false;
    }
    return m->rates.in.tripped || m->rates.out.tripped ? -ECONNABORTED : 0;
}

int http_poll(struct http_exchange *x, uint32_t client, struct loop_watch *const *watches,
              const uint32_t *events, size_t n, uint64_t deadline)
{
    struct loop_watch *all[POLL_MAX_OTHERS + 1];
    uint32_t ev[POLL_MAX_OTHERS + 1];
    int mask, r;

    /* Nothing can be written while a head is being built. */
    if (n > POLL_MAX_OTHERS || ((client & LOOP_WRITE) && x->state == HTTP_RESP_HEAD))
        return -EINVAL;
    all[0] = &x->conn->w;
    for (size_t i = 0; i < n; i++) {
        all[i + 1] = watches[i];
        ev[i + 1] = events[i];
    }
    for (;;) {
        if ((r = poll_rates_check(x)) < 0 || (r = poll_client_prepare(x, client)) < 0)
            return r;
        mask = poll_mask(x, client, watches, events, n);
        if (mask)
            return mask;
        /* The client's socket is watched for what the handler wants, and
         * for writing while output waits in the queue. */
        ev[0] = (client & (LOOP_READ | LOOP_HUP) ? LOOP_READ : 0) |
                ((client & LOOP_WRITE) || poll_pending(x) ? LOOP_WRITE : 0);
        r = ev[0] ? co_poll(all, ev, n + 1, deadline) : co_poll(all + 1, ev + 1, n, deadline);
        if (r == -ETIMEDOUT && poll_rates_check(x) < 0)
            return -ECONNABORTED;
        if (r < 0)
            return r;
    }
}

int http_resp_takeover(struct http_exchange *x, struct http_takeover *t)
{
    struct conn_mem *m = xmem(x);
    int r;

    if (x->state != HTTP_RESP_HEAD || x->status != 101)
        return -EINVAL;
    if (!m->body_done)
        return -EBUSY;
    x->keep_alive = false;
    r = http_resp_body(x, NULL, 0);
    if (r == 0)
        r = conn_flush(x->conn, 0);
    if (r < 0)
        return r;
    m->taken_over = true;
    m->body_claimed = true;
    x->conn->w.rates = NULL; /* the handler's socket now, at its own pace */
    *t = (struct http_takeover){
        .client = &x->conn->w,
        .buffered = m->rbuf + m->bpos,
        .buffered_len = m->rlen - m->bpos,
    };
    m->bpos = m->rlen; /* the handler's now */
    return 0;
}

uint64_t http_resp_body_sent(const struct http_exchange *x)
{
    const struct conn_mem *m = xmem(x);
    uint64_t wire = m->sent + (m->broken ? 0 : m->olen) - x->out_start;

    if (x->head_only || wire <= x->head_len)
        return 0;
    return wire - x->head_len;
}

uint64_t http_exchange_elapsed_us(const struct http_exchange *x)
{
    uint64_t now = conn_clock_ns(x->conn);

    return x->start_ns && now > x->start_ns ? (now - x->start_ns) / 1000 : 0;
}

void http_count_file_cache(struct http_exchange *x, bool hit)
{
    struct http_stats *st = &x->conn->srv->stats;

    http_stat_add(hit ? &st->file_cache_hits : &st->file_cache_misses, 1);
}

void http_count_script(struct http_exchange *x, enum http_script_event ev)
{
    struct http_stats *st = &x->conn->srv->stats;

    switch (ev) {
    case HTTP_SCRIPT_STARTED: http_stat_add(&st->scripts_running, 1); break;
    case HTTP_SCRIPT_ENDED: http_stat_add(&st->scripts_running, (uint64_t)-1); break;
    case HTTP_SCRIPT_KILLED_TIMEOUT: http_stat_add(&st->scripts_killed_timeout, 1); break;
    case HTTP_SCRIPT_KILLED_GONE: http_stat_add(&st->scripts_killed_gone, 1); break;
    }
}

bool http_client_gone(const struct http_exchange *x)
{
    char byte;
    ssize_t n;

    if (x->conn->w.ready & LOOP_HUP)
        return true;
    n = recv(x->conn->w.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void http_resp_client_gone(struct http_exchange *x)
{
    struct conn_mem *m = xmem(x);

    if (x->state == HTTP_RESP_HEAD) {
        m->olen = x->head_start;
        x->state = HTTP_RESP_NONE;
    }
    if (x->state != HTTP_RESP_NONE)
        return;
    x->status = HTTP_STATUS_CLIENT_GONE;
    x->state = HTTP_RESP_DONE;
    x->keep_alive = false; /* what was answered before still leaves; then the close */
}

static bool is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

socklen_t http_local_addr(const struct http_exchange *x, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof *ss;

    if (x->local && x->local_len > 0 && x->local_len <= sizeof *ss && !is_wildcard(x->local)) {
        memcpy(ss, x->local, x->local_len);
        return x->local_len;
    }
    if (getsockname(x->conn->w.fd, (struct sockaddr *)ss, &len) < 0)
        return 0;
    return len;
}
