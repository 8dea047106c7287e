/* proxy.c - the proxy handler: picks an upstream, relays the request up and the response back. */
#include "handlers/proxy.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "core/io.h"
#include "core/log.h"
#include "handlers/compress_stream.h"
#include "handlers/proxy_internal.h"

/* How one attempt on one upstream connection ended. */
enum proxy_outcome {
    PX_OK,          /* the response went out whole */
    PX_RETRY,       /* a reused connection failed before a response byte */
    PX_FAIL_502,    /* nothing sent to the client yet: answer 502 */
    PX_FAIL_504,    /* nothing sent to the client yet: answer 504 */
    PX_BODY_FAIL,   /* the client's body failed: answer http_body_status() */
    PX_CUT,         /* the client's response cannot be completed: close */
    PX_FAIL_503,    /* every upstream left stayed at max_conns for queue_timeout */
    PX_UPGRADE,     /* the upstream answered 101 to an Upgrade: tunnel */
    PX_CLIENT_GONE, /* the client left before anything was sent to it */
};

/* One request through the proxy, freed by its cleanup on every path. */
struct proxy_req {
    struct http_exchange *x;
    const struct proxy_conf *c;
    struct proxy_worker *pw;
    struct proxy_shared *shared;
    size_t route;
    uint64_t key;          /* what balance = hash hashes */
    struct proxy_conn *pc; /* the upstream connection in use, or NULL */
    /* toward the upstream */
    char *target; /* the request target sent upstream, NUL-terminated */
    char *head;   /* the request head, head_cap bytes */
    size_t head_cap;
    struct iovec out[3]; /* what waits to be written: head, or a body piece */
    int out_n;
    char chunk_line[24];
    bool chunked;       /* the body is re-chunked */
    uint64_t body_read; /* client body bytes taken so far */
    bool body_eof;      /* the body was read to its end and queued */
    bool req_sent;      /* the whole request went up */
    bool abandoned;     /* the upstream answered before taking the whole body */
    /* from the upstream */
    size_t in_len, parsed;
    const char *span; /* body bytes waiting for the client */
    size_t span_len;
    bool got_byte;                 /* a byte of the response arrived */
    bool client_stays;             /* the client sent more: no watch for its leaving */
    bool head_sent;                /* the client's response began */
    uint64_t last_up, last_client; /* when each side last moved (loop ms) */
    /* wait flags of the current round */
    bool want_client_read, want_client_write, want_up_read, want_up_write;
    struct cstream *cs; /* the response body's compressor, or NULL */
    /* Buffers allocated when first needed, freed with the request: a
     * response that fits in small never touches PROXY_BUF bytes. */
    char *big;         /* PROXY_BUF bytes for the upstream's bytes, or NULL */
    bool small_full;   /* a read filled small: the body goes on through big */
    char *resp_head;   /* PROXY_HEAD_MAX bytes for head lines as text, or NULL */
    char *from_client; /* a tunnel's PROXY_BUF bytes for the client's, or NULL */
    char *buf;         /* where the upstream's bytes go: small, then big */
    size_t buf_cap;
    /* from here on, nothing is zeroed first: each is set before use */
    struct proxy_resp resp; /* proxy_resp_init() before each attempt */
    char small[PROXY_SMALL];
    /* then the target (target_cap bytes) and the request head (head_cap) */
};

static void req_cleanup(void *arg)
{
    struct proxy_req *p = arg;

    if (p->pc)
        proxy_conn_close(p->pc);
    free(p->big);
    free(p->resp_head);
    free(p->from_client);
    free(p);
}

/* Moves what the upstream sent so far into a buffer of PROXY_BUF bytes
 * (the response's spans follow it). 0, or -1 when out of memory. */
static int buf_grow(struct proxy_req *p)
{
    if (p->buf == p->big)
        return 0;
    if (!p->big)
        p->big = malloc(PROXY_BUF);
    if (!p->big) {
        log_error("%s: out of memory for the upstream's response", p->x->path);
        return -1;
    }
    memcpy(p->big, p->buf, p->in_len);
    proxy_resp_rebase(&p->resp, p->buf, p->in_len, p->big);
    p->buf = p->big;
    p->buf_cap = PROXY_BUF;
    return 0;
}

/* The PROXY_HEAD_MAX bytes for head lines as text, or NULL (ENOMEM). */
static char *resp_head_buf(struct proxy_req *p)
{
    if (!p->resp_head)
        p->resp_head = malloc(PROXY_HEAD_MAX);
    return p->resp_head;
}

static void out_set(struct proxy_req *p, const char *a, size_t alen, const char *b, size_t blen,
                    const char *c, size_t clen)
{
    p->out[0] = (struct iovec){.iov_base = (void *)a, .iov_len = alen};
    p->out[1] = (struct iovec){.iov_base = (void *)b, .iov_len = blen};
    p->out[2] = (struct iovec){.iov_base = (void *)c, .iov_len = clen};
    p->out_n = 3;
}

static size_t out_left(const struct proxy_req *p)
{
    size_t n = 0;

    for (int i = 0; i < p->out_n; i++)
        n += p->out[i].iov_len;
    return n;
}

static void out_advance(struct proxy_req *p, size_t n)
{
    for (int i = 0; i < p->out_n && n > 0; i++) {
        size_t k = n < p->out[i].iov_len ? n : p->out[i].iov_len;

        p->out[i].iov_base = (char *)p->out[i].iov_base + k;
        p->out[i].iov_len -= k;
        n -= k;
    }
}

/* Queues the next piece of the client's body. 1 progress, 0 wait, < 0 outcome. */
static int up_fill(struct proxy_req *p)
{
    const char *data;
    ssize_t n;

    if (out_left(p) > 0 || p->body_eof || p->abandoned)
        return 0;
    n = http_body_read_nowait(p->x, &data);
    if (n == -EAGAIN) {
        p->want_client_read = true;
        return 0;
    }
    if (n < 0)
        return -PX_BODY_FAIL;
    p->last_client = p->last_up = loop_now(p->x->loop);
    if (n == 0) {
        p->body_eof = true;
        if (p->chunked)
            out_set(p, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
        return 1;
    }
    p->body_read += (uint64_t)n;
    if (p->chunked)
        out_set(p, p->chunk_line,
                (size_t)snprintf(p->chunk_line, sizeof p->chunk_line, "%zx\r\n", (size_t)n), data,
                (size_t)n, "\r\n", 2);
    else
        out_set(p, data, (size_t)n, NULL, 0, NULL, 0);
    return 1;
}

/* Writes what waits for the upstream. 1 progress, 0 wait, < 0 outcome. */
static int up_write(struct proxy_req *p)
{
    ssize_t n;

    if (out_left(p) == 0 || p->abandoned) {
        if (p->body_eof && out_left(p) == 0)
            p->req_sent = true;
        return 0;
    }
    n = co_writev_nowait(&p->pc->w, p->out, p->out_n);
    if (n == -EAGAIN) {
        p->want_up_write = true;
        return 0;
    }
    if (n < 0) {
        if (p->got_byte) {
            /* it answers without taking the rest: stop sending */
            p->abandoned = true;
            return 1;
        }
        return -PX_RETRY;
    }
    out_advance(p, (size_t)n);
    p->last_up = loop_now(p->x->loop);
    return 1;
}

/* Starts compressing the response when the route and its head allow it:
 * the head in p->resp_head (*len bytes) is rewritten for it; a head that
 * would not fit then goes as it is, uncompressed. */
static void compress_head(struct proxy_req *p, int *len)
{
    struct cstream_head h;
    size_t n = (size_t)*len;

    cstream_raw_parse(p->resp_head, n, &h);
    p->cs = cstream_open(p->x, true, &h);
    if (cstream_raw_head(p->cs, p->resp_head, &n, PROXY_HEAD_MAX) < 0)
        p->cs = NULL; /* freed with the exchange */
    *len = (int)n;
}

/* Sends the client the head of the final response: its parts as parsed
 * and checked, or, when the route compresses, as text that the
 * compressor rewrites. 1 or < 0 outcome. */
static int send_head(struct proxy_req *p)
{
    int len = 0;

    if (p->c->compress) {
        len = resp_head_buf(p) ? proxy_resp_head_text(&p->resp, p->resp_head, PROXY_HEAD_MAX) : -1;
        if (len < 0) {
            log_error("upstream %s: the response head is too large: 502",
                      p->c->upstreams[p->pc->up].text);
            return -PX_FAIL_502;
        }
    }
    p->head_sent = true;
    /* An upstream may answer before the body went up: a client waiting
     * for 100 Continue gets it before the response begins. */
    if (!p->body_eof && http_body_claim(p->x) < 0)
        return -PX_CUT;
    if (!p->c->compress)
        return proxy_resp_send_head(&p->resp, p->x) < 0 ? -PX_CUT : 1;
    compress_head(p, &len);
    return http_resp_raw(p->x, p->resp_head, (size_t)len) < 0 ? -PX_CUT : 1;
}

/* Relays the interim (1xx) head just parsed; an HTTP/1.0 client, or a
 * client given the final head's beginning, gets none. 1 or < 0 outcome. */
static int send_interim(struct proxy_req *p)
{
    int len =
        resp_head_buf(p) ? proxy_resp_header_lines(&p->resp, p->resp_head, PROXY_HEAD_MAX) : -1;
    int r = len < 0 ? 0 : http_resp_interim(p->x, p->resp.interim, p->resp_head, (size_t)len);

    if (len < 0 || r == -EINVAL || r == -ENOSPC)
        log_warn("upstream %s: a %d interim response could not be relayed: dropped",
                 p->c->upstreams[p->pc->up].text, p->resp.interim);
    else if (r < 0)
        return -PX_CUT;
    /* its bytes are done with: the next head starts the buffer again */
    if (p->parsed == p->in_len)
        p->in_len = p->parsed = 0;
    return 1;
}

/* Feeds the parser what is buffered. 1 progress, 0 nothing to feed, < 0 outcome. */
static int up_parse(struct proxy_req *p)
{
    ssize_t k;

    /* After a body span, the parser is fed again even with nothing
     * buffered: the end of the message may follow that span. */
    if (p->span_len > 0 || (p->parsed == p->in_len && !p->resp.body) || p->resp.upgrade)
        return 0;
    k = proxy_resp_feed(&p->resp, p->buf + p->parsed, p->in_len - p->parsed);
    if (k < 0)
        return p->head_sent ? -PX_CUT : -PX_FAIL_502;
    p->parsed += (size_t)k;
    if (p->resp.interim)
        return send_interim(p);
    if (p->resp.head_ready && !p->head_sent && !p->resp.upgrade) {
        int r = send_head(p);

        if (r < 0)
            return r;
    }
    p->span = p->resp.body;
    p->span_len = p->resp.body_len;
    return 1;
}

/* The upstream closed (or failed: err < 0) its side. 1 or < 0 outcome. */
static int up_eof(struct proxy_req *p, ssize_t err)
{
    const char *up = p->c->upstreams[p->pc->up].text;

    if (!p->got_byte)
        return -PX_RETRY;
    if (err == 0 && proxy_resp_eof(&p->resp) == 0)
        return 1;
    log_error("upstream %s: the connection ended before the response did%s", up,
              p->head_sent ? ": the client's connection is cut" : ": 502");
    return p->head_sent ? -PX_CUT : -PX_FAIL_502;
}

/* Reads more of the response when the parser has used what is buffered:
 * into small first, into big once a head outgrows small or a body fills
 * it. */
static int up_read(struct proxy_req *p)
{
    size_t cap = p->resp.head_ready ? PROXY_BUF : PROXY_HEAD_MAX;
    ssize_t n;

    if (p->resp.done || p->span_len > 0 || p->parsed < p->in_len)
        return 0;
    if (p->resp.head_ready)
        p->in_len = p->parsed = 0;
    if (p->in_len == cap) {
        log_error("upstream %s: the response head is over %d bytes: 502",
                  p->c->upstreams[p->pc->up].text, PROXY_HEAD_MAX);
        return -PX_FAIL_502;
    }
    if ((p->in_len == p->buf_cap || (p->small_full && p->in_len == 0)) && buf_grow(p) < 0)
        return p->head_sent ? -PX_CUT : -PX_FAIL_502;
    n = co_read_nowait(&p->pc->w, p->buf + p->in_len,
                       (cap < p->buf_cap ? cap : p->buf_cap) - p->in_len);
    if (n == -EAGAIN) {
        p->want_up_read = true;
        return 0;
    }
    if (n <= 0)
        return up_eof(p, n);
    p->got_byte = true;
    p->in_len += (size_t)n;
    p->small_full |= p->in_len == p->buf_cap;
    p->last_up = loop_now(p->x->loop);
    return 1;
}

/* Hands buffered body bytes to the client. 1 progress, 0 wait, < 0 outcome. */
static int client_write(struct proxy_req *p)
{
    ssize_t n;

    if (p->span_len == 0)
        return 0;
    n = cstream_write_nowait(p->cs, p->x, p->span, p->span_len);
    if (n == -EAGAIN) {
        p->want_client_write = true;
        return 0;
    }
    if (n < 0)
        return -PX_CUT;
    p->span += n;
    p->span_len -= (size_t)n;
    /* the upstream's silence counts only while it is being read */
    p->last_client = p->last_up = loop_now(p->x->loop);
    return 1;
}

/* The client's socket turned readable while the upstream was awaited: 0
 * when it sent more (it stays), -PX_CUT when it left, which closes the
 * upstream connection now rather than at the response's first write. */
static int client_left(struct proxy_req *p)
{
    if (!http_client_gone(p->x)) {
        p->client_stays = true;
        return 0;
    }
    log_info("%s: the client left while upstream %s was answering: both connections closed",
             p->x->path, p->c->upstreams[p->pc->up].text);
    p->x->keep_alive = false;
    return -PX_CUT;
}

/* Waits for what the round wanted. 0, or < 0 outcome on a timeout. */
static int relay_wait(struct proxy_req *p)
{
    const struct http_limits *lim = &p->x->site->limits;
    struct loop_watch *w = &p->pc->w;
    uint32_t client =
        (p->want_client_read ? LOOP_READ : 0) | (p->want_client_write ? LOOP_WRITE : 0);
    /* Waiting on the upstream alone, the client's leaving is watched too. */
    bool watch_leave = !client && !p->client_stays;
    uint32_t up = (p->want_up_read ? LOOP_READ : 0) | (p->want_up_write ? LOOP_WRITE : 0);
    uint64_t up_deadline =
        p->last_up + (p->want_up_read ? p->c->read_timeout_ms : p->c->send_timeout_ms);
    uint64_t client_deadline =
        p->last_client + (p->want_client_write ? lim->send_timeout_ms : lim->body_timeout_ms);
    uint64_t deadline = !up       ? client_deadline
                        : !client ? up_deadline
                                  : (up_deadline < client_deadline ? up_deadline : client_deadline);
    int r;

    if (!up && !client)
        return -PX_CUT;
    r = http_poll(p->x, watch_leave ? LOOP_HUP : client, up ? &w : NULL, &up, up ? 1 : 0,
                  watch_leave ? up_deadline : deadline);
    if (r >= 0 && watch_leave && (r & 1))
        return client_left(p);
    if (r >= 0)
        return 0;
    if (r != -ETIMEDOUT || !up || loop_now(p->x->loop) < up_deadline)
        return -PX_CUT;
    log_error("upstream %s: no answer within %s: %s", p->c->upstreams[p->pc->up].text,
              p->want_up_read ? "read_timeout" : "send_timeout",
              p->head_sent ? "the client's connection is cut" : "504");
    return p->head_sent ? -PX_CUT : -PX_FAIL_504;
}

/* One round of every step; returns 1 when something moved, 0 to wait. */
static int relay_round(struct proxy_req *p)
{
    int (*const steps[])(struct proxy_req *) = {up_fill, up_write, up_parse,
                                                up_read, up_parse, client_write};
    int moved = 0;

    p->want_client_read = p->want_client_write = p->want_up_read = p->want_up_write = false;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int r = steps[i](p);

        if (r < 0)
            return r;
        moved |= r;
    }
    return moved;
}

/* Sends the request on p->pc and relays the response. Returns an outcome. */
static enum proxy_outcome relay(struct proxy_req *p, size_t head_len)
{
    p->last_up = p->last_client = loop_now(p->x->loop);
    out_set(p, p->head, head_len, NULL, 0, NULL, 0);
    for (;;) {
        int r = relay_round(p);

        if (r < 0)
            return (enum proxy_outcome) - r;
        if (p->resp.upgrade)
            return PX_UPGRADE;
        if (p->resp.done && p->span_len == 0) {
            if (!p->req_sent)
                p->abandoned = true;
            return PX_OK;
        }
        if (r == 0) {
            r = relay_wait(p);
            if (r < 0)
                return (enum proxy_outcome) - r;
        }
    }
}

/* GET, HEAD, PUT, DELETE, OPTIONS, TRACE, or a request with Idempotency-Key. */
static bool idempotent(const struct http_exchange *x)
{
    size_t len;

    switch (x->req->method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_OPTIONS:
    case HTTP_TRACE: return true;
    default: return http_req_header(x, "Idempotency-Key", &len) != NULL;
    }
}

/* Ends a relayed response; the connection goes back to the pool when the
 * exchange on it ended cleanly. */
static void relay_done(struct proxy_req *p)
{
    if (cstream_finish(p->cs, p->x) < 0)
        return;
    if (p->resp.keep_alive && p->req_sent && !p->abandoned && p->parsed == p->in_len) {
        p->pc->requests++;
        proxy_pool_put(p->pc, p->c);
        p->pc = NULL;
    }
}

/* The upstreams one request tried and why each failed, for the log line
 * that ends it. */
struct proxy_tries {
    uint32_t tried;    /* a bit per upstream given up on */
    unsigned n;        /* how many */
    size_t last;       /* the last one */
    bool timed_out;    /* the last one ended at a timeout */
    uint64_t deadline; /* retry_timeout's end (0: none) */
    size_t names_len;
    char names[1024]; /* "A (why), B (why)"; last: not zeroed first */
};

/* Upstream up failed (why): counted by passive health, named in the log. */
static void try_failed(struct proxy_req *p, struct proxy_tries *t, size_t up, const char *why,
                       bool timeout)
{
    size_t cap = sizeof t->names - t->names_len;
    int n = snprintf(t->names + t->names_len, cap, "%s%s (%s)", t->n ? ", " : "",
                     p->c->upstreams[up].text, why);

    if (n > 0)
        t->names_len += (size_t)n < cap ? (size_t)n : cap - 1;
    log_warn("upstream %s: %s", p->c->upstreams[up].text, why);
    t->tried |= UINT32_C(1) << up;
    t->last = up;
    t->n++;
    t->timed_out = timeout;
    proxy_health_fail(p->shared, up, p->c, loop_now(p->x->loop));
}

/* The next upstream to try: one passive health lets through when there is
 * one (else any: better a try than a certain 502), below max_conns (else
 * queued up to queue_timeout). -1 when none is left, -2 when the queue
 * timed out, -3 when the client left (or failed) while queued. May yield. */
static int choose(struct proxy_req *p, const struct proxy_tries *t)
{
    const struct proxy_conf *c = p->c;
    uint32_t all = c->n_upstreams >= 32 ? UINT32_MAX : (UINT32_C(1) << c->n_upstreams) - 1;
    uint32_t avail, up;
    uint64_t queue_end = 0;
    int r;

    for (;;) {
        if ((all & ~t->tried) == 0)
            return -1;
        avail = all & ~t->tried & ~proxy_pool_full(p->pw, p->route, c);
        if (avail)
            break;
        if (queue_end == 0) {
            queue_end = loop_now(p->x->loop) + c->queue_timeout_ms;
            log_debug("%.*s: queued: every upstream left is at max_conns", (int)p->x->path_len,
                      p->x->path);
        }
        r = proxy_pool_queue_wait(p->pw, p->x, p->route, queue_end);
        if (r < 0)
            return r == -ETIMEDOUT ? -2 : -3;
    }
    up = avail & proxy_health_up(p->shared, c, loop_now(p->x->loop));
    return (int)proxy_balance_pick(proxy_worker_balancer(p->pw, p->route), c, p->shared,
                                   up ? up : avail, p->key);
}

/* A connection to upstream up: a pooled one unless fresh, else a new one.
 * *reused tells which. NULL when it cannot connect (counted in t). */
static struct proxy_conn *attempt_conn(struct proxy_req *p, struct proxy_tries *t, size_t up,
                                       bool fresh, bool *reused)
{
    struct loop *loop = p->x->loop;
    /* An idempotent request without a body that meets a connection closed
     * meanwhile is sent again (attempt): no peek for it. */
    bool resendable = idempotent(p->x) && !p->chunked && p->x->req->content_length <= 0;
    struct proxy_conn *pc = fresh ? NULL : proxy_pool_get(p->pw, loop, p->shared, up, !resendable);
    uint64_t deadline = loop_now(loop) + p->c->connect_timeout_ms;
    bool retry_end = t->deadline && t->deadline < deadline;
    int err;

    *reused = pc != NULL;
    if (pc)
        return pc;
    pc = proxy_connect(p->pw, loop, p->shared, up, retry_end ? t->deadline : deadline, &err);
    if (!pc)
        try_failed(p, t, up,
                   err != -ETIMEDOUT ? strerror(-err)
                   : retry_end       ? "retry_timeout"
                                     : "connect_timeout",
                   err == -ETIMEDOUT);
    return pc;
}

/* Prepares p for another attempt with a new connection. */
static void attempt_reset(struct proxy_req *p)
{
    if (p->pc)
        proxy_conn_close(p->pc);
    p->pc = NULL;
    p->in_len = p->parsed = p->span_len = 0;
    p->got_byte = p->req_sent = p->abandoned = false;
    p->buf = p->small;
    p->buf_cap = sizeof p->small;
    p->small_full = false;
    if (p->body_read == 0)
        p->body_eof = false; /* an empty body ends again (a chunked one with its last chunk) */
}

/* Whether the request may move on after t's failures: retries and
 * retry_timeout allow it. Logs the end (naming every upstream tried) when
 * not; *o is then the answer. */
static bool may_retry(struct proxy_req *p, struct proxy_tries *t, int up, enum proxy_outcome *o)
{
    const char *why = up == -2 ? "every upstream stayed at max_conns for queue_timeout"
                      : up == -1 || t->n > p->c->retries ? "no upstream answered"
                                                         : NULL;

    if (!why && t->deadline && loop_now(p->x->loop) >= t->deadline) {
        why = "no upstream answered within retry_timeout";
        t->timed_out = true;
    }
    if (!why)
        return true;
    *o = up == -2 ? PX_FAIL_503 : t->timed_out ? PX_FAIL_504 : PX_FAIL_502;
    log_error("%.*s %.*s: %s (tried: %s): %d", (int)p->x->req->method_name.len,
              p->x->req->method_name.p, (int)p->x->path_len, p->x->path, why,
              t->n ? t->names : "none",
              *o == PX_FAIL_503   ? 503
              : *o == PX_FAIL_504 ? 504
                                  : 502);
    return false;
}

/* Sends the request to the upstream chosen and relays its answer; 1 to
 * move on to another upstream, 0 with the final outcome in *o. */
static int attempt(struct proxy_req *p, struct proxy_tries *t, size_t up, const char *target,
                   size_t target_len, enum proxy_outcome *o)
{
    bool reused, fresh = false;
    int head_len;

    for (;;) {
        uint64_t start_ns = loop_now_ns(p->x->loop);

        http_exchange_set_upstream(p->x, p->c->upstreams[up].text, -1);
        p->pc = attempt_conn(p, t, up, fresh, &reused);
        if (!p->pc)
            return 1;
        head_len = proxy_request_head(p->c, &p->c->upstreams[up], p->x, target, target_len, p->head,
                                      p->head_cap);
        if (head_len < 0) {
            *o = PX_FAIL_502;
            return 0;
        }
        proxy_resp_init(&p->resp, p->c->upstreams[up].text, p->x->req->method == HTTP_HEAD);
        p->resp.upgrade_asked = p->x->req->upgrade;
        *o = relay(p, (size_t)head_len);
        /* what the upstream took: from the connect (or reuse) to the
         * response's end, or to its 101 */
        http_exchange_set_upstream(p->x, p->x->upstream,
                                   (int64_t)((loop_now_ns(p->x->loop) - start_ns) / 1000));
        if (*o == PX_FAIL_502 || *o == PX_FAIL_504)
            proxy_health_fail(p->shared, up, p->c, loop_now(p->x->loop));
        if (*o != PX_RETRY)
            return 0;
        if (!reused && p->body_read == 0 && idempotent(p->x)) {
            /* a fresh connection that ended at once: the next upstream */
            try_failed(p, t, up, "closed before a response", false);
            attempt_reset(p);
            return 1;
        }
        if (!reused || p->body_read > 0 || !idempotent(p->x)) {
            log_error("upstream %s: the connection ended before a response: 502",
                      p->c->upstreams[up].text);
            proxy_health_fail(p->shared, up, p->c, loop_now(p->x->loop));
            *o = PX_FAIL_502;
            return 0;
        }
        attempt_reset(p); /* the keep-alive race: again, on a new connection */
        fresh = true;
    }
}

/* Tries upstreams until one answers, within retries and retry_timeout.
 * Returns the final outcome. */
static enum proxy_outcome proxy_run(struct proxy_req *p, const char *target, size_t target_len)
{
    struct proxy_tries t;
    enum proxy_outcome o = PX_FAIL_502;

    memset(&t, 0, offsetof(struct proxy_tries, names)); /* names is written before it is read */

    if (p->c->retry_timeout_ms)
        t.deadline = loop_now(p->x->loop) + p->c->retry_timeout_ms;
    for (;;) {
        int up;

        if (t.n > 0 && !may_retry(p, &t, 0, &o))
            return o;
        up = choose(p, &t);
        if (up == -3) {
            log_info("%.*s %.*s: the client left while queued for max_conns: 499",
                     (int)p->x->req->method_name.len, p->x->req->method_name.p, (int)p->x->path_len,
                     p->x->path);
            return PX_CLIENT_GONE;
        }
        if (up < 0) {
            may_retry(p, &t, up, &o);
            return o;
        }
        if (t.n > 0)
            atomic_fetch_add_explicit(&p->shared->ups[t.last].retries, 1, memory_order_relaxed);
        if (attempt(p, &t, (size_t)up, target, target_len, &o) == 0)
            return o;
    }
}

/* The upstream switched protocols: the tunnel relays through big (the
 * upstream's bytes behind its 101 first) and from_client, both freed with
 * p (a tunnel cancelled at shutdown never returns here). */
static void tunnel(struct proxy_req *p)
{
    char *from_client = p->from_client = malloc(PROXY_BUF);
    int len = !from_client || !resp_head_buf(p) || buf_grow(p) < 0
                  ? -2
                  : proxy_resp_header_lines(&p->resp, p->resp_head, PROXY_HEAD_MAX);
    const struct proxy_tunnel_bufs b = {
        .lines = p->resp_head,
        .lines_len = len < 0 ? 0 : (size_t)len,
        .from_up = p->buf,
        .from_up_cap = p->buf_cap,
        .early = p->buf + p->parsed,
        .early_len = p->in_len - p->parsed,
        .from_client = from_client,
        .from_client_cap = PROXY_BUF,
    };
    /* An upstream may switch before the end of an empty body was seen. */
    bool sent = out_left(p) == 0 && (p->body_eof || (http_body_done(p->x) && !p->chunked));

    if (!sent || len < 0) {
        log_error("upstream %s: %s: 502", p->c->upstreams[p->pc->up].text,
                  len == -2 ? "out of memory for the tunnel"
                  : len < 0 ? "the 101 head is too large"
                            : "101 before the request's body went up");
        http_resp_error(p->x, 502, NULL);
    } else {
        proxy_tunnel(p->x, p->c, p->pc, &p->resp, &b);
    }
}

/* Room for the target proxy_target() writes: the path as received or
 * re-encoded (three bytes for one), a '/', the query; at most 8 KiB (then
 * 414). */
static size_t target_room(const struct http_exchange *x, size_t rest_len)
{
    size_t n = x->req->path.len + 3 * rest_len + x->req->query.len + 8;

    return n < 8192 ? n : 8192;
}

/* Room for the head proxy_request_head() writes: the target, the client's
 * head (its Host three times over at most, a space more per header), the
 * forwarding headers and the framing; never more than the route's limit
 * gave before. */
static size_t head_room(const struct http_exchange *x, size_t target_cap)
{
    size_t n = target_cap + 5 * x->req->head_len + 1024;
    size_t limit = x->site->limits.max_header_size + 4096;

    return n < limit ? n : limit;
}

static void proxy_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    struct proxy_shared *route = state;
    size_t target_cap = target_room(x, rest_len), head_cap = head_room(x, target_cap);
    struct proxy_req *p = malloc(sizeof *p + target_cap + head_cap);
    int target_len;
    enum proxy_outcome o;

    if (!p || http_exchange_defer(x, req_cleanup, p) < 0) {
        free(p);
        http_resp_error(x, 500, NULL);
        return;
    }
    memset(p, 0, offsetof(struct proxy_req, resp)); /* the buffers need no zeroes */
    p->buf = p->small;
    p->buf_cap = sizeof p->small;
    p->x = x;
    p->c = route->conf;
    p->pw = x->handler_worker;
    p->shared = route;
    p->route = route->index;
    if (p->c->balance == PROXY_HASH)
        p->key = proxy_balance_key(p->c, x);
    p->target = (char *)(p + 1);
    p->head = p->target + target_cap;
    p->head_cap = head_cap;
    p->chunked = x->req->chunked;
    target_len =
        proxy_target(p->c, x->req->path.p, x->req->path.len, x->req->query.p, x->req->query.len,
                     x->path, x->path_len, rest, rest_len, p->target, target_cap);
    if (target_len < 0) {
        http_resp_error(x, 414, NULL);
        return;
    }
    o = proxy_run(p, p->target, (size_t)target_len);
    if (o == PX_OK)
        relay_done(p);
    else if (o == PX_UPGRADE)
        tunnel(p);
    else if (o == PX_CLIENT_GONE)
        http_resp_client_gone(x);
    else if (o == PX_FAIL_502 || o == PX_FAIL_504 || o == PX_FAIL_503)
        http_resp_error(x, o == PX_FAIL_502 ? 502 : o == PX_FAIL_504 ? 504 : 503, NULL);
    else if (o == PX_BODY_FAIL && !p->head_sent && http_body_status(x))
        http_resp_error(x, http_body_status(x), NULL);
}

/* ---- route lifetimes and --route ---- */

static int proxy_open(const void *conf, size_t index, void **state, char *err, size_t err_len)
{
    struct proxy_shared *r = calloc(1, sizeof *r);
    int rc;

    if (!r)
        return -ENOMEM;
    r->conf = conf;
    r->index = index;
    rc = proxy_check_start(r);
    if (rc < 0) {
        snprintf(err, err_len, "cannot start the health checker: %s", strerror(-rc));
        free(r);
        return rc;
    }
    *state = r;
    return 0;
}

static void proxy_close(void *state)
{
    proxy_check_stop(state);
    free(state);
}

static const char *balance_name(enum proxy_balance b)
{
    switch (b) {
    case PROXY_LEAST_CONN: return "least_conn";
    case PROXY_RANDOM_TWO: return "random_two";
    case PROXY_HASH: return "hash";
    case PROXY_ROUND_ROBIN:
    default: return "round_robin";
    }
}

static void proxy_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    const struct proxy_conf *c = conf;
    char target[8192];
    int n = proxy_target(c, t->raw_path, t->raw_path_len, t->query, t->query_len, t->path,
                         t->path_len, t->rest, t->rest_len, target, sizeof target);

    cstream_describe(out, c->compress);
    fputs("upstreams:", out);
    for (size_t i = 0; i < c->n_upstreams; i++) {
        if (c->upstreams[i].weight == 1)
            fprintf(out, " %s", c->upstreams[i].text);
        else
            fprintf(out, " %s*%u", c->upstreams[i].text, c->upstreams[i].weight);
    }
    fprintf(out, "\nbalance: %s", balance_name(c->balance));
    if (c->balance == PROXY_HASH && c->hash_header[0])
        fprintf(out, " on header %s", c->hash_header);
    else if (c->balance == PROXY_HASH)
        fputs(" on the client address", out);
    fputc('\n', out);
    if (n < 0)
        fputs("upstream target: none (414 URI Too Long)\n", out);
    else
        fprintf(out, "upstream target: %.*s %s\n", (int)t->method_len, t->method, target);
}

const struct handler_kind proxy_kind = {
    .name = "proxy",
    .schema = &proxy_schema,
    .conf_size = sizeof(struct proxy_conf),
    .conf_init = proxy_conf_defaults,
    .open = proxy_open,
    .close = proxy_close,
    .worker_init = proxy_worker_init,
    .worker_teardown = proxy_worker_teardown,
    .handle = proxy_handle,
    .describe = proxy_describe,
    .upstreams = proxy_health_view,
    .keeps_encoded_slash = true,
};
