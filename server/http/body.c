/* body.c - the request body as a handler reads it, and as the engine settles or drains it. */
#include <errno.h>
#include <string.h>

#include "core/io.h"
#include "http/conn.h"
#include "http/exchange.h"

/* Body bytes the engine reads and drops for a handler that left them, so
 * that the connection can persist; beyond that it closes instead. */
#define BODY_SKIP_BUDGET (64 * 1024)

static struct conn_mem *xmem(const struct http_exchange *x) { return x->conn->mem; }

void http_body_reset(struct conn_mem *m, const struct http_request *req)
{
    m->body_done = !http_request_has_body(req);
    m->continue_sent = false;
    m->body_claimed = false;
    m->body_starved = false;
    m->taken_over = false;
    m->body_errno = 0;
    m->body_status = 0;
}

/* A body read failed: the failure and its status are kept and repeated. */
static ssize_t body_fail(struct conn_mem *m, int err, int status)
{
    m->body_errno = err;
    m->body_status = status;
    return err;
}

/* The parser's verdict (minus a status) as -errno plus its status. */
static ssize_t body_parse_fail(struct conn_mem *m, int r)
{
    switch (r) {
    case -413: return body_fail(m, -EFBIG, 413);
    case -431: return body_fail(m, -EMSGSIZE, 431);
    default: return body_fail(m, -EBADMSG, 400);
    }
}

/* Queues "100 Continue" and sends what the socket takes now. */
static int body_continue(struct http_exchange *x)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct conn_mem *m = xmem(x);

    m->continue_sent = true;
    if (CONN_OBUF_SIZE - m->olen < sizeof line - 1) {
        int r = conn_flush(x->conn, 0);

        if (r < 0)
            return r;
    }
    memcpy(m->obuf + m->olen, line, sizeof line - 1);
    m->olen += sizeof line - 1;
    return conn_flush_nowait(x->conn);
}

/* 100 Continue only before any response: once a final answer is under
 * way, the client learns from it instead. */
static int body_maybe_continue(struct http_exchange *x)
{
    struct conn_mem *m = xmem(x);

    if (x->req->expect_continue && !m->continue_sent && x->state == HTTP_RESP_NONE &&
        m->bpos == m->rlen)
        return body_continue(x);
    return 0;
}

/* Makes room for more raw body bytes behind the head, whose spans must stay. */
static void body_compact(struct conn_mem *m)
{
    size_t body_start = m->rstart + m->req.head_len;

    if (m->bpos == m->rlen) {
        m->bpos = m->rlen = body_start;
    } else if (m->rlen == m->rcap && m->bpos > body_start) {
        memmove(m->rbuf + body_start, m->rbuf + m->bpos, m->rlen - m->bpos);
        m->rlen -= m->bpos - body_start;
        m->bpos = body_start;
    }
}

/* Decodes what is buffered: > 0 bytes at *data, 0 at the end, -EAGAIN
 * when the buffered bytes give nothing yet (room was made for more), or a
 * failure. Never yields. */
static ssize_t body_decode(struct conn_mem *m, const char **data)
{
    for (;;) {
        size_t consumed = 0, out_len = 0;
        const char *out = NULL;
        int r = http_parse_body(&m->parser, m->rbuf + m->bpos, m->rlen - m->bpos, &consumed, &out,
                                &out_len);

        m->bpos += consumed;
        m->x.bytes_in += consumed;
        if (r < 0)
            return body_parse_fail(m, r);
        if (out_len > 0) {
            *data = out;
            if (r == 1)
                m->body_done = true; /* the next call answers 0 */
            return (ssize_t)out_len;
        }
        if (r == 1) {
            m->body_done = true;
            return 0;
        }
        if (consumed == 0)
            break;
    }
    body_compact(m);
    if (m->rlen == m->rcap)
        return body_fail(m, -EBADMSG, 400); /* a chunk line longer than the buffer */
    m->body_starved = true;
    return -EAGAIN;
}

/* What a read of the socket into the body buffer gave: the count is added,
 * and 0 (the client closed) or an error becomes the body's failure. */
static ssize_t body_got(struct conn_mem *m, ssize_t n)
{
    if (n > 0) {
        m->rlen += (size_t)n;
        m->body_starved = false;
        return n;
    }
    if (n == 0)
        return body_fail(m, -ECONNRESET, 0);
    if (n == -ETIMEDOUT)
        return body_fail(m, -ETIMEDOUT, 408);
    if (n == -EAGAIN || n == -ECANCELED)
        return n; /* not a failure of the body: try again later */
    return body_fail(m, (int)n, 0);
}

/* The shared body of the two reads: wait says whether to wait for bytes. */
static ssize_t body_read(struct http_exchange *x, const char **data, bool wait)
{
    struct conn_mem *m = xmem(x);
    ssize_t n;
    int r;

    m->body_claimed = true;
    if (m->body_errno)
        return m->body_errno;
    if (m->body_done)
        return 0;
    if ((r = body_maybe_continue(x)) < 0)
        return r;
    for (;;) {
        n = body_decode(m, data);
        if (n != -EAGAIN)
            return n;
        if (!wait) {
            n = body_got(m, co_read_nowait(&x->conn->w, m->rbuf + m->rlen, m->rcap - m->rlen));
        } else {
            /* Queued answers (to pipelined requests) leave before a wait. */
            if (x->state != HTTP_RESP_HEAD && (r = conn_flush(x->conn, 0)) < 0)
                return r;
            n = body_got(m, co_read(&x->conn->w, m->rbuf + m->rlen, m->rcap - m->rlen,
                                    loop_now(x->loop) + x->site->limits.body_timeout_ms));
        }
        if (n < 0)
            return n;
    }
}

ssize_t http_body_read(struct http_exchange *x, const char **data)
{
    return body_read(x, data, true);
}

ssize_t http_body_read_nowait(struct http_exchange *x, const char **data)
{
    return body_read(x, data, false);
}

int http_body_status(const struct http_exchange *x) { return xmem(x)->body_status; }

bool http_body_done(const struct http_exchange *x) { return xmem(x)->body_done; }

int http_body_claim(struct http_exchange *x)
{
    xmem(x)->body_claimed = true;
    return xmem(x)->body_done ? 0 : body_maybe_continue(x);
}

/* Reads and drops the body up to BODY_SKIP_BUDGET bytes. Returns 0 when
 * it ended, 1 when it is larger (or the client waits for 100 Continue and
 * will not send it), or the failure. May yield. */
static int body_skip(struct http_exchange *x)
{
    struct conn_mem *m = xmem(x);
    uint64_t budget = BODY_SKIP_BUDGET;
    const char *data;
    ssize_t n;

    if (m->body_errno)
        return m->body_errno;
    if (m->body_done)
        return 0;
    if ((x->req->expect_continue && !m->continue_sent) ||
        (x->req->content_length > 0 && (uint64_t)x->req->content_length > budget))
        return 1;
    while ((n = body_read(x, &data, true)) > 0) {
        if ((uint64_t)n >= budget)
            return 1;
        budget -= (uint64_t)n;
    }
    return (int)n;
}

int http_body_settle_unread(struct http_exchange *x)
{
    struct conn_mem *m = xmem(x);
    int r;

    if (m->body_errno) {
        /* Settled before, and answered: the connection will close. */
        x->keep_alive = false;
        return 0;
    }
    r = body_skip(x);
    m->body_claimed = false; /* settling is not the handler's reading */
    if (r != 0)
        x->keep_alive = false;
    return r < 0 ? m->body_status : 0;
}

void http_body_drain(struct http_exchange *x)
{
    if (!x->keep_alive || xmem(x)->broken)
        return;
    if (body_skip(x) != 0)
        x->keep_alive = false;
}
