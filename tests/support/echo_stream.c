/* echo_stream.c - a test handler that streams the request body back as it arrives. */
#include "echo_stream.h"

#include <errno.h>

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
