/* proxy_tunnel.c - after an upstream's 101: the client's connection taken over, bytes relayed
 * both ways until both sides end, one fails, or the tunnel stays idle too long. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/io.h"
#include "core/log.h"
#include "handlers/proxy_internal.h"

/* One direction of the tunnel. */
struct tunnel_dir {
    struct loop_watch *from, *to;
    char *buf;
    size_t cap;
    const char *out; /* bytes read from `from`, not yet written to `to` */
    size_t out_len;
    bool eof; /* `from` ended and `to` was shut for writing */
};

/* Moves what can move now from d->from to d->to, adding to *ev_from and
 * *ev_to what to wait for. Returns 1 when something moved, 0 when nothing
 * could, -errno when a side failed. Never yields. */
static int dir_step(struct tunnel_dir *d, uint32_t *ev_from, uint32_t *ev_to)
{
    int moved = 0;
    ssize_t n;

    if (d->out_len == 0 && !d->eof) {
        n = co_read_nowait(d->from, d->buf, d->cap);
        if (n == -EAGAIN) {
            *ev_from |= LOOP_READ;
        } else if (n < 0) {
            return (int)n;
        } else if (n == 0) {
            /* half-close: the other side learns the end, may still answer */
            d->eof = true;
            shutdown(d->to->fd, SHUT_WR);
            moved = 1;
        } else {
            d->out = d->buf;
            d->out_len = (size_t)n;
            moved = 1;
        }
    }
    if (d->out_len > 0) {
        n = co_write_nowait(d->to, d->out, d->out_len);
        if (n == -EAGAIN) {
            *ev_to |= LOOP_WRITE;
        } else if (n < 0) {
            return (int)n;
        } else {
            d->out += n;
            d->out_len -= (size_t)n;
            moved = 1;
        }
    }
    return moved;
}

/* Relays both ways until both directions ended, one failed, or nothing
 * moved for idle_ms. Returns 0 (both ended) or why it stopped (-errno,
 * -ETIMEDOUT, -ECANCELED). May yield. */
static int tunnel_relay(struct loop *loop, struct tunnel_dir *up, struct tunnel_dir *down,
                        uint64_t idle_ms)
{
    uint64_t last = loop_now(loop);

    for (;;) {
        uint32_t ev[2] = {0, 0}; /* [0]: the client, [1]: the upstream */
        struct loop_watch *w[2] = {up->from, down->from};
        int a, b, r;

        if ((a = dir_step(up, &ev[0], &ev[1])) < 0)
            return a;
        if ((b = dir_step(down, &ev[1], &ev[0])) < 0)
            return b;
        if (up->eof && down->eof && up->out_len == 0 && down->out_len == 0)
            return 0;
        if (a || b) {
            last = loop_now(loop);
            continue;
        }
        if (ev[0] && ev[1])
            r = co_poll(w, ev, 2, last + idle_ms);
        else
            r = co_poll(ev[0] ? &w[0] : &w[1], ev[0] ? &ev[0] : &ev[1], 1, last + idle_ms);
        if (r < 0)
            return r;
    }
}

/* Begins the client's 101 with the upstream's end-to-end header lines,
 * its Upgrade and Connection: upgrade. Returns 0 or -errno. Never yields. */
static int tunnel_head(struct http_exchange *x, const struct proxy_resp *r, const char *lines,
                       size_t len)
{
    size_t proto_len;
    const char *proto = proxy_resp_header(r, "Upgrade", &proto_len);
    int e;

    if ((e = http_resp_begin(x, 101)) < 0)
        return e;
    if ((e = http_resp_header_lines(x, lines, len)) < 0)
        return e;
    if (proto && (e = http_resp_header(x, "Upgrade", 7, proto, proto_len)) < 0)
        return e;
    return http_resp_header(x, "Connection", 10, "upgrade", 7);
}

int proxy_tunnel(struct http_exchange *x, const struct proxy_conf *c, struct proxy_conn *pc,
                 const struct proxy_resp *r, const struct proxy_tunnel_bufs *b)
{
    const char *up_name = c->upstreams[pc->up].text;
    struct http_takeover t;
    struct tunnel_dir up, down;
    int e = tunnel_head(x, r, b->lines, b->lines_len);

    if (e == 0)
        e = http_resp_takeover(x, &t);
    if (e < 0) {
        log_warn("upstream %s: the 101 could not reach the client: %s", up_name, strerror(-e));
        return e;
    }
    up = (struct tunnel_dir){.from = t.client,
                             .to = &pc->w,
                             .buf = b->from_client,
                             .cap = b->from_client_cap,
                             .out = t.buffered,
                             .out_len = t.buffered_len};
    down = (struct tunnel_dir){.from = &pc->w,
                               .to = t.client,
                               .buf = b->from_up,
                               .cap = b->from_up_cap,
                               .out = b->early,
                               .out_len = b->early_len};
    e = tunnel_relay(x->loop, &up, &down, c->tunnel_idle_timeout_ms);
    if (e == -ETIMEDOUT)
        log_info("upstream %s: tunnel idle for tunnel_idle_timeout: closed", up_name);
    else if (e < 0 && e != -ECANCELED && e != -ECONNRESET && e != -EPIPE)
        log_warn("upstream %s: tunnel ended: %s", up_name, strerror(-e));
    return 0;
}
