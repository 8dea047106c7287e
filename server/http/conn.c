/* conn.c - the connection coroutine: requests in, responses out, keep-alive and pipelining. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sys.h"
#include "http/accesslog.h"
#include "http/client.h"
#include "http/conn.h"
#include "http/status.h"
#include "http/url.h"

/* Unsent bytes the kernel queues for a client under min_send_rate. */
#define CONN_NOTSENT_LOWAT (16 * 1024)

enum serve_result {
    SERVE_NEXT,  /* the request is answered; the connection persists */
    SERVE_CLOSE, /* close the connection once the answer is out */
    SERVE_ABORT, /* a write failed: close at once, nothing more can be sent */
};

const char *conn_date(struct conn *c)
{
    return http_date_cached(&c->srv->date, loop_wall(c->srv->loop));
}

uint64_t conn_send_deadline(const struct conn *c)
{
    /* While a request is served, the socket's account (conn_rates_start)
     * bounds each wait for the client, however long the write. */
    if (c->w.rates)
        return 0;
    return loop_now(c->srv->loop) + c->site->limits.send_timeout_ms;
}

void conn_sent(struct conn *c, uint64_t n)
{
    c->mem->sent += n;
    http_stat_add(&c->srv->stats.bytes_out, n);
}

void conn_set_state(struct conn *c, enum conn_state s)
{
    struct http_stats *st = &c->srv->stats;

    if (c->state == s)
        return;
    if (c->state != CONN_IDLE)
        http_stat_add(c->state == CONN_READING ? &st->conns_reading : &st->conns_writing,
                      (uint64_t)-1);
    if (s != CONN_IDLE)
        http_stat_add(s == CONN_READING ? &st->conns_reading : &st->conns_writing, 1);
    c->state = s;
}

uint64_t conn_clock_ns(const struct conn *c) { return loop_now_ns(c->srv->loop); }

int conn_flush_prefix(struct conn *c, size_t len, int flags)
{
    struct conn_mem *m = c->mem;
    struct iovec iov = {.iov_base = m->obuf, .iov_len = len};
    ssize_t n;

    if (len == 0)
        return 0;
    n = co_sendmsg(&c->w, &iov, 1, flags, conn_send_deadline(c));
    if (n < 0) {
        m->broken = true;
        return (int)n;
    }
    conn_sent(c, len);
    memmove(m->obuf, m->obuf + len, m->olen - len);
    m->olen -= len;
    return 0;
}

int conn_flush(struct conn *c, int flags) { return conn_flush_prefix(c, c->mem->olen, flags); }

int conn_flush_nowait(struct conn *c)
{
    struct conn_mem *m = c->mem;
    bool in_head = m->x.state == HTTP_RESP_HEAD;
    size_t len = in_head ? m->x.head_start : m->olen; /* never a head half-built */
    ssize_t n;

    if (len == 0)
        return 0;
    n = co_write_nowait(&c->w, m->obuf, len);
    if (n == -EAGAIN)
        return 0;
    if (n < 0) {
        m->broken = true;
        return (int)n;
    }
    conn_sent(c, (uint64_t)n);
    memmove(m->obuf, m->obuf + n, m->olen - (size_t)n);
    m->olen -= (size_t)n;
    if (in_head)
        m->x.head_start -= (size_t)n;
    return 0;
}

void conn_run_cleanups(struct conn *c)
{
    struct conn_mem *m = c->mem;

    while (m && m->ncleanups > 0) {
        struct conn_cleanup *cl = &m->cleanups[--m->ncleanups];

        cl->fn(cl->data);
    }
}

/* An error answered before any handler ran: the head is unusable, so the
 * reply is written from scratch and the connection closes after it. */
static void conn_reply_error(struct conn *c, int status)
{
    struct conn_mem *m = c->mem;
    struct http_exchange *x = &m->x;
    size_t len;
    const char *body = http_status_body(status, &len);
    const char *server = c->site->server_header;
    int n;

    n = snprintf(m->obuf + m->olen, CONN_OBUF_SIZE - m->olen,
                 "HTTP/1.1 %03d %s\r\nDate: %s\r\n%s%s%sContent-Type: text/plain; "
                 "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 status, http_status_reason(status), conn_date(c),
                 server && *server ? "Server: " : "", server && *server ? server : "",
                 server && *server ? "\r\n" : "", len, body);
    x->out_start = m->sent + m->olen;
    if (n > 0 && (size_t)n < CONN_OBUF_SIZE - m->olen) {
        m->olen += (size_t)n;
        x->head_len = (size_t)n - len;
    }
    x->status = status;
    x->body_bytes = len;
    x->state = HTTP_RESP_DONE;
}

/* Reads until a whole head is buffered. Returns > 0 (parsed), 0 (the peer
 * left between requests), or minus the status to answer. */
static int conn_read_head(struct conn *c)
{
    struct conn_mem *m = c->mem;
    uint64_t deadline = loop_now(c->srv->loop) + c->site->limits.header_timeout_ms;

    for (;;) {
        size_t avail = m->rlen - m->rstart;
        ssize_t n;

        if (avail > 0) {
            int r;

            if (!m->head_ns)
                m->head_ns = conn_clock_ns(c);
            r = http_parse_head(&m->parser, m->rbuf + m->rstart, avail, &m->req);

            if (r != 0)
                return r;
        }
        if (m->rlen == m->rcap) {
            if (m->rstart == 0)
                return -431;
            memmove(m->rbuf, m->rbuf + m->rstart, avail);
            m->rlen = avail;
            m->rstart = 0;
        }
        /* Answers to pipelined requests leave before waiting for more: the
         * client may wait for them before it sends the rest. */
        if (conn_flush(c, 0) < 0)
            return 0;
        /* Counted as reading only while it waits for the head: a head
         * already buffered goes straight to being served. */
        conn_set_state(c, CONN_READING);
        n = co_read(&c->w, m->rbuf + m->rlen, m->rcap - m->rlen, deadline);
        if (n == -ETIMEDOUT)
            return avail > 0 || c->requests == 0 ? -408 : 0;
        if (n <= 0)
            return 0;
        m->rlen += (size_t)n;
    }
}

/* Fills the exchange for the parsed request; returns 0 or a status. */
static int conn_prepare(struct conn *c)
{
    struct conn_mem *m = c->mem;
    struct http_exchange *x = &m->x;
    const struct http_request *req = &m->req;
    int len;

    *x = (struct http_exchange){
        .conn = c,
        .loop = c->srv->loop,
        .site = c->site,
        .req = req,
        .path = "",
        .head_only = req->method == HTTP_HEAD,
        .keep_alive = req->keep_alive && !c->srv->draining,
        .peer = (const struct sockaddr *)&c->peer,
        .peer_len = c->peer_len,
        .local = (const struct sockaddr *)&c->local,
        .local_len = c->local_len,
        .upstream_us = -1,
        .bytes_in = req->head_len,
        .out_start = m->sent + m->olen,
        .start_ns = m->head_ns,
    };
    m->head_ns = 0;
    /* The last request a connection may make is answered with close. */
    if (c->site->limits.max_keepalive_requests &&
        c->requests + 1 >= c->site->limits.max_keepalive_requests)
        x->keep_alive = false;
    http_client_set(x, &m->client_ss);
    m->bpos = m->rstart + req->head_len;
    http_body_reset(m, req);
    if (req->path.len == 0 || req->path.p[0] != '/')
        return req->method == HTTP_OPTIONS && req->target.len == 1 ? 0 : 400;
    len = url_normalize_path_route(req->path.p, req->path.len, m->pathbuf, m->rcap,
                                   &x->path_trailing_slash, &x->path_encoded_slash,
                                   &x->path_dot_segment);
    if (len < 0)
        return -len;
    x->path = m->pathbuf;
    x->path_len = (size_t)len;
    return 0;
}

static void conn_count(struct conn *c, struct http_exchange *x)
{
    struct http_stats *st = &c->srv->stats;
    int cls = x->status / 100;
    size_t b = 0;

    http_stat_add(&st->requests, 1);
    http_stat_add(&st->status_class[cls >= 1 && cls <= 5 ? cls : 0], 1);
    x->duration_us = http_exchange_elapsed_us(x);
    while (b < HTTP_DURATION_BUCKETS - 1 && x->duration_us > http_duration_bounds_us[b])
        b++;
    http_stat_add(&st->duration[b], 1);
    http_stat_add(&st->duration_sum_us, x->duration_us);
    http_stat_add(&st->bytes_in, x->bytes_in);
    if (c->srv->access_log)
        access_log_record(c->srv->access_log, x);
}

/* After the handler: a response it left without a head, or with a head
 * never ended, becomes a 500; one cut short closes the connection. */
static void conn_complete_response(struct conn *c)
{
    struct conn_mem *m = c->mem;
    struct http_exchange *x = &m->x;

    if (x->state == HTTP_RESP_HEAD && !m->broken) {
        /* A head begun and never finished: replace it. */
        log_error(x->head_overflow ? "%s: the response head is too large"
                                   : "%s: the handler left its response head unfinished",
                  x->path);
        m->olen = x->head_start;
        x->state = HTTP_RESP_NONE;
        http_resp_error(x, 500, NULL);
    } else if (x->state == HTTP_RESP_NONE && !m->broken && m->body_status) {
        http_resp_error(x, m->body_status, NULL); /* the body failed it */
    } else if (x->state == HTTP_RESP_NONE && !m->broken) {
        log_error("%s: the handler sent no response", x->path);
        http_resp_error(x, 500, NULL);
    }
    if (x->state != HTTP_RESP_DONE)
        x->keep_alive = false; /* a response cut short: the framing is lost */
}

/* Puts the [limits] of this request's body and response on the socket
 * (see struct io_rate): no wait for the client lasts longer than
 * body_timeout or send_timeout, and with min_body_rate or min_send_rate
 * the client must keep that average rate once the first body_timeout or
 * send_timeout of waiting for it is spent. */
static void conn_rates_start(struct conn *c)
{
    struct conn_mem *m = c->mem;
    const struct http_limits *l = &c->site->limits;
    int lowat = CONN_NOTSENT_LOWAT;

    /* With min_send_rate, the kernel keeps little unsent data, so that a
     * slow reader shows as waits rather than as megabytes taken at once.
     * Not a TCP socket (unix:): nothing to do. */
    if (l->min_send_rate && !c->lowat) {
        c->lowat = true;
        setsockopt(c->w.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }

    io_rate_start(&m->rates.in, m->body_done ? 0 : l->min_body_rate, l->body_timeout_ms);
    io_rate_start(&m->rates.out, l->min_send_rate, l->send_timeout_ms);
    c->w.rates = &m->rates;
}

static void conn_rate_log(const struct conn *c, const struct io_rate *r, const char *what,
                          const char *key)
{
    char peer[128];

    net_addr_text((const struct sockaddr *)&c->peer, c->peer_len, peer, sizeof peer);
    log_info("client %s: %s at %llu bytes/s on average, below %s = %llu: closing the connection",
             peer, what, (unsigned long long)io_rate_seen(r), key, (unsigned long long)r->rate);
}

/* Takes the rates off the socket, saying which one the client fell below. */
static void conn_rates_end(struct conn *c)
{
    struct conn_mem *m = c->mem;

    c->w.rates = NULL;
    if (m->rates.in.tripped && m->rates.in.rate)
        conn_rate_log(c, &m->rates.in, "request body sent", "min_body_rate");
    if (m->rates.out.tripped && m->rates.out.rate)
        conn_rate_log(c, &m->rates.out, "response taken", "min_send_rate");
}

/* Serves the request whose head is parsed in c->mem. */
static enum serve_result conn_serve(struct conn *c)
{
    struct conn_mem *m = c->mem;
    struct http_exchange *x = &m->x;
    int status = conn_prepare(c);

    c->requests++;
    conn_rates_start(c);
    if (status)
        http_resp_error(x, status, NULL);
    else if (x->path_len == 0)
        http_resp_error(x, 204, NULL); /* OPTIONS * */
    else
        c->site->dispatch(x, c->site->app);
    conn_run_cleanups(c);
    if (m->taken_over) {
        conn_rates_end(c);
        conn_count(c, x);
        return SERVE_ABORT; /* the handler had the socket: nothing more to say */
    }
    conn_complete_response(c);
    http_body_drain(x);
    conn_rates_end(c);
    conn_count(c, x);
    if (m->broken)
        return SERVE_ABORT;
    if (!x->keep_alive || !m->body_done)
        return SERVE_CLOSE;
    m->rstart = m->bpos;
    if (m->rstart == m->rlen)
        m->rstart = m->rlen = 0;
    http_parser_reset(&m->parser);
    return SERVE_NEXT;
}

/* Answers a head that could not be parsed; the connection then closes. */
static void conn_serve_bad_head(struct conn *c, int status)
{
    struct conn_mem *m = c->mem;

    m->x = (struct http_exchange){
        .conn = c,
        .loop = c->srv->loop,
        .site = c->site,
        .peer = (const struct sockaddr *)&c->peer,
        .peer_len = c->peer_len,
        .client = (const struct sockaddr *)&c->peer,
        .client_len = c->peer_len,
        .upstream_us = -1,
        .bytes_in = m->rlen - m->rstart,
        .start_ns = m->head_ns,
    };
    m->head_ns = 0;
    conn_reply_error(c, status);
    log_info("closing a connection after %d %s", status, http_status_reason(status));
    conn_count(c, &m->x);
}

/* Closes gracefully: the response is flushed, our side shut down, and what
 * the client still sends is read and dropped for a moment, so that the
 * kernel does not reset the connection before the client read the reply. */
static void conn_linger(struct conn *c)
{
    struct conn_mem *m = c->mem;
    uint64_t deadline = loop_now(c->srv->loop) + 2000;
    int rounds = 64;

    if (conn_flush(c, 0) < 0)
        return;
    if (shutdown(c->w.fd, SHUT_WR) < 0)
        return;
    while (rounds-- > 0 && co_read(&c->w, m->rbuf, m->rcap, deadline) > 0)
        ;
}

/* True when no byte of a next request is buffered. */
static bool m_empty(const struct conn *c) { return c->mem->rlen == c->mem->rstart; }

/* Ends a connection whose last request is answered. When the client asked
 * for the close and sent nothing past its request (the body read, nothing
 * buffered, the socket drained), it will send nothing more: the close
 * follows the response at once, without waiting for the client's FIN.
 * Anything else may still be on its way and gets the lingering close. */
static void conn_finish(struct conn *c)
{
    struct conn_mem *m = c->mem;

    if (!m->req.keep_alive && m->body_done && m->bpos == m->rlen && !(c->w.ready & LOOP_READ)) {
        conn_flush(c, 0);
        return;
    }
    conn_linger(c);
}

enum input { INPUT_NONE, INPUT_DATA, INPUT_GONE };

/* When the socket may hold unread bytes (no short read or EAGAIN seen since
 * the last edge), one read is tried at once: data, nothing (go idle), or
 * the peer gone (end of file or an error: close). */
static enum input conn_input_pending(struct conn *c)
{
    struct conn_mem *m = c->mem;
    ssize_t n;

    if (!(c->w.ready & LOOP_READ))
        return INPUT_NONE;
    n = sys_read(c->w.fd, m->rbuf, m->rcap);
    if (n > 0) {
        m->rlen = (size_t)n;
        if ((size_t)n < m->rcap)
            c->w.ready &= ~(uint32_t)LOOP_READ;
        return INPUT_DATA;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        c->w.ready &= ~(uint32_t)LOOP_READ;
        return INPUT_NONE;
    }
    return INPUT_GONE;
}

/* The keep-alive timeout, or the header timeout of a connection that never
 * sent a byte: it is closed without a word, as there is nothing to answer.
 * The timer stays armed while a coroutine serves the connection and is
 * not moved at every request: when it fires early (the connection was
 * busy since), it is armed again for the idle deadline, and while a
 * coroutine runs it does nothing (conn_go_idle arms it again). */
static void conn_idle_expired(struct timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, idle_timer));

    if (c->co)
        return;
    if (loop_now(c->srv->loop) < c->idle_deadline) {
        timer_arm(loop_timers(c->srv->loop), &c->idle_timer, c->idle_deadline);
        return;
    }
    conn_close(c);
}

/* The idle connection may close at deadline: the timer is moved only when
 * it would fire later than that (or is not armed). */
static void conn_idle_until(struct conn *c, uint64_t deadline)
{
    c->idle_deadline = deadline;
    if (timer_armed(&c->idle_timer) && c->idle_timer.expires <= deadline)
        return;
    if (!timer_armed(&c->idle_timer))
        timer_init(&c->idle_timer, conn_idle_expired);
    timer_arm(loop_timers(c->srv->loop), &c->idle_timer, deadline);
}

/* Gives the working memory back and waits, with no coroutine, for input.
 * Returns false when the socket cannot be watched (then close it). */
static bool conn_go_idle(struct conn *c)
{
    int r = loop_watch_arm(&c->w);

    if (r < 0) {
        log_error("cannot watch a connection: %s", strerror(-r));
        return false;
    }
    conn_mem_put(c->srv, c->mem);
    c->mem = NULL;
    conn_idle_until(c, loop_now(c->srv->loop) + (c->requests
                                                     ? c->srv->site->limits.keepalive_timeout_ms
                                                     : c->srv->site->limits.header_timeout_ms));
    return true;
}

static void conn_release_site(struct conn *c)
{
    if (c->site) {
        if (c->site->release)
            c->site->release(c->site);
        c->site = NULL;
    }
}

/* Holds the server's current configuration for the next request. */
static void conn_hold_site(struct conn *c)
{
    const struct http_site *site = c->srv->site;

    if (c->site == site)
        return;
    conn_release_site(c);
    if (site->hold)
        site->hold(site);
    c->site = site;
    /* Between two requests the parser is fresh (reset after each request,
     * initialised with the working memory): it only takes the new limits
     * (the old site's may be freed by the release above). */
    if (c->mem)
        http_parser_set_limits(&c->mem->parser, &site->limits);
}

/* A coroutine cancelled while serving (the worker is going away). */
static void conn_cancelled(void *arg)
{
    struct conn *c = arg;

    conn_run_cleanups(c);
    c->co = NULL;
    conn_release_site(c);
    conn_close(c);
}

void conn_main(struct coro *co, void *arg)
{
    struct conn *c = arg;
    int cancel = coro_defer(co, conn_cancelled, c);

    c->co = co;
    if (!c->mem && !(c->mem = conn_mem_get(c->srv))) {
        log_error("out of memory for a connection");
        goto close;
    }
    for (;;) {
        int r;

        /* Nothing buffered and nothing to read: wait idle, holding nothing. */
        if (m_empty(c)) {
            enum input in = c->srv->draining ? INPUT_NONE : conn_input_pending(c);

            if (in == INPUT_GONE)
                goto close;
            if (in == INPUT_NONE)
                break;
        }
        conn_hold_site(c);
        r = conn_read_head(c);
        conn_set_state(c, CONN_WRITING);
        if (r == 0)
            goto close;
        if (r < 0) {
            conn_serve_bad_head(c, -r);
            conn_linger(c);
            goto close;
        }
        switch (conn_serve(c)) {
        case SERVE_NEXT: break;
        case SERVE_CLOSE: conn_finish(c); goto close;
        case SERVE_ABORT: goto close;
        }
        if (!m_empty(c))
            continue; /* pipelined: answer it before writing */
        if (conn_flush(c, 0) < 0)
            goto close;
    }
    conn_set_state(c, CONN_IDLE);
    if (c->srv->draining || !conn_go_idle(c))
        goto close;
    coro_defer_disarm(co, cancel);
    conn_release_site(c);
    c->co = NULL;
    return;
close:
    coro_defer_disarm(co, cancel);
    conn_release_site(c);
    c->co = NULL;
    conn_close(c);
}

void conn_wake(struct conn *c)
{
    /* The idle timer stays armed: see conn_idle_expired. */
    if (!loop_spawn(c->srv->loop, conn_main, c)) {
        log_error("cannot start a coroutine: %s", strerror(errno));
        conn_close(c);
    }
}
