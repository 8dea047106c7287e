/* echo_stream.c - test handlers that stream both ways: the body echoed as it arrives, a body
 * read after the head, a tunnel after 101. */
#include "echo_stream.h"

#include <errno.h>
#include <stdio.h>

#include "core/io.h"

/* One wait for the client: readable when nothing waits to be written,
 * writable while something does. 0 or -errno. */
static int echo_wait(struct http_exchange *x, bool writing)
{
    uint64_t timeout = writing ? x->site->limits.send_timeout_ms : x->site->limits.body_timeout_ms;
    int r =
        http_poll(x, writing ? LOOP_WRITE : LOOP_READ, NULL, NULL, 0, loop_now(x->loop) + timeout);

    return r < 0 ? r : 0;
}

/* Relays the body to the response until its end. 0 or -errno. */
static int echo_relay(struct http_exchange *x)
{
    const char *piece = NULL;
    size_t left = 0;
    ssize_t n;

    for (;;) {
        if (left == 0) {
            n = http_body_read_nowait(x, &piece);
            if (n == 0)
                return 0;
            if (n > 0)
                left = (size_t)n;
            else if (n != -EAGAIN)
                return (int)n;
        }
        if (left > 0) {
            n = http_resp_write_nowait(x, piece, left);
            if (n > 0) {
                piece += n;
                left -= (size_t)n;
                continue;
            }
            if (n != -EAGAIN)
                return (int)n;
        }
        n = echo_wait(x, left > 0);
        if (n < 0)
            return (int)n;
    }
}

void echo_stream(struct http_exchange *x, void *arg)
{
    (void)arg;
    /* Claimed before the response begins: a client waiting for 100
     * Continue gets it. */
    if (http_body_claim(x) < 0 || http_resp_begin(x, 200) < 0)
        return;
    http_resp_header(x, "Content-Type", 12, "application/octet-stream", 24);
    if (http_resp_stream(x, x->req->chunked
                                ? -1
                                : (x->req->content_length > 0 ? x->req->content_length : 0)) < 0)
        return;
    if (echo_relay(x) == 0)
        http_resp_finish(x);
}

void echo_late_body(struct http_exchange *x, void *arg)
{
    const char *data;
    ssize_t n;
    size_t got = 0;
    char line[64];
    int len;

    (void)arg;
    /* No http_body_claim(): beginning the response must not cost the body. */
    if (http_resp_begin(x, 200) < 0 || http_resp_stream(x, -1) < 0 ||
        http_resp_write(x, "started;", 8) < 0 || http_resp_flush(x) < 0)
        return;
    while ((n = http_body_read(x, &data)) > 0)
        got += (size_t)n;
    if (n == 0)
        len = snprintf(line, sizeof line, "got=%zu", got);
    else
        len = snprintf(line, sizeof line, "failed=%zd", n);
    if (http_resp_write(x, line, (size_t)len) == 0)
        http_resp_finish(x);
}

void echo_tunnel(struct http_exchange *x, void *arg)
{
    uint64_t idle = x->site->limits.body_timeout_ms;
    struct http_takeover t;
    char buf[4096];
    ssize_t n;

    (void)arg;
    if (http_resp_begin(x, 101) < 0)
        return;
    http_resp_header(x, "Upgrade", 7, "echo", 4);
    http_resp_header(x, "Connection", 10, "upgrade", 7);
    if (http_resp_takeover(x, &t) < 0)
        return;
    if (t.buffered_len && co_write(t.client, t.buffered, t.buffered_len, 0) < 0)
        return;
    while ((n = co_read(t.client, buf, sizeof buf, loop_now(x->loop) + idle)) > 0)
        if (co_write(t.client, buf, (size_t)n, loop_now(x->loop) + idle) < 0)
            return;
}
