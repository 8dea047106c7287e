/* proxy_fake.c - fake upstreams for the proxy tests: raw sockets that answer well or badly. */
#include "proxy_fake.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_BUF     65536
#define FAKE_WAIT_MS 30000 /* the longest any fake waits for anything */

struct fake_conn {
    struct fake *f;
    int fd;
    int number; /* 1 for the first connection accepted */
    char buf[FAKE_BUF];
    size_t len; /* bytes in buf */
};

/* Waits until fd is readable or f stops; false on stop or after FAKE_WAIT_MS. */
static bool wait_readable(struct fake *f, int fd)
{
    for (int waited = 0; waited < FAKE_WAIT_MS && !atomic_load(&f->stop); waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (poll(&p, 1, 50) > 0)
            return true;
    }
    return false;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_str(int fd, const char *s) { return send_all(fd, s, strlen(s)); }

/* Reads until a whole head is in c->buf; returns its length, 0 at EOF. */
static size_t read_head(struct fake_conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        ssize_t n;

        if (end)
            return (size_t)(end + 4 - c->buf);
        if (c->len == sizeof c->buf || !wait_readable(c->f, c->fd))
            return 0;
        n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
    }
}

/* Drops the head (and what follows up to skip more bytes) from c->buf. */
static void consume(struct fake_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The Content-Length of the head at c->buf, or -1. */
static long head_length(const struct fake_conn *c, size_t head_len)
{
    for (size_t i = 0; i + 16 < head_len; i++) {
        if (strncasecmp(c->buf + i, "\r\nContent-Length:", 17) == 0)
            return strtol(c->buf + i + 17, NULL, 10);
    }
    return -1;
}

/* Sends back what is buffered, or else what arrives next (c->len stays
 * the bytes sent). false when the peer closed or nothing came. */
static bool echo_some(struct fake_conn *c)
{
    if (c->len == 0) {
        ssize_t n;

        if (!wait_readable(c->f, c->fd))
            return false;
        n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n <= 0)
            return false;
        c->len = (size_t)n;
    }
    return send_all(c->fd, c->buf, c->len);
}

/* Streams a Content-Length body back as it arrives. */
static bool echo_length(struct fake_conn *c, long total)
{
    char head[128];
    long done = 0;

    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", total);
    if (!send_str(c->fd, head))
        return false;
    while (done < total) {
        if (!echo_some(c))
            return false;
        done += (long)c->len;
        c->len = 0;
    }
    return true;
}

/* Streams a chunked body back, framing and all, up to its last chunk
 * (bodies of these tests hold no CR or LF, so its end is unmistakable). */
static bool echo_chunked(struct fake_conn *c)
{
    char tail[8] = "";

    if (!send_str(c->fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        return false;
    for (;;) {
        size_t keep;

        if (!echo_some(c))
            return false;
        keep = c->len < 7 ? c->len : 7;
        memmove(tail, tail + keep, 7 - keep);
        memcpy(tail + 7 - keep, c->buf + c->len - keep, keep);
        c->len = 0;
        if (memcmp(tail, "\r\n0\r\n\r\n", 7) == 0)
            return true;
    }
}

static bool answer_sse(struct fake_conn *c)
{
    if (!send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nb\r\ndata: one\n\n\r\n"))
        return false;
    for (int waited = 0; !atomic_load(&c->f->sse_go); waited += 10) {
        if (waited > FAKE_WAIT_MS || atomic_load(&c->f->stop))
            return false;
        usleep(10000);
    }
    return send_str(c->fd, "b\r\ndata: two\n\n\r\n0\r\n\r\n");
}

/* Answers one request whose head is c->buf[0..head_len). false: close. */
/* FAKE_BIG_HEAD: a head with an X-Big header as long as the number that
 * ends the request's path says. */
static bool answer_big_head(struct fake_conn *c, size_t head_len)
{
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Big: ",
                      end[] = "\r\nContent-Length: 2\r\n\r\nok";
    const char *sp = memchr(c->buf, ' ', head_len), *slash = NULL;
    size_t n = 0;
    char *head;
    bool ok;

    for (const char *q = sp ? sp + 1 : c->buf; q < c->buf + head_len && *q != ' '; q++)
        if (*q == '/')
            slash = q;
    if (slash)
        n = strtoul(slash + 1, NULL, 10);
    head = malloc(n + 128);
    if (!head)
        return false;
    memcpy(head, start, sizeof start - 1);
    memset(head + sizeof start - 1, 'h', n);
    memcpy(head + sizeof start - 1 + n, end, sizeof end - 1);
    ok = send_all(c->fd, head, sizeof start - 1 + n + sizeof end - 1);
    free(head);
    return ok;
}

/* FAKE_BIG: the head, then the body in 64 KiB sends that block while the
 * proxy does not read (its back-pressure). */
static bool answer_big(struct fake_conn *c)
{
    static char x[65536];
    char head[96];

    memset(x, 'x', sizeof x);
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n", FAKE_BIG_SIZE);
    if (!send_str(c->fd, head))
        return false;
    for (long long left = FAKE_BIG_SIZE; left > 0 && !atomic_load(&c->f->stop);) {
        size_t n = left < (long long)sizeof x ? (size_t)left : sizeof x;

        if (!send_all(c->fd, x, n))
            return false;
        atomic_fetch_add(&c->f->sent, (long long)n);
        left -= (long long)n;
    }
    return true;
}

static bool answer(struct fake_conn *c, int req, size_t head_len)
{
    char out[FAKE_BUF + 256];
    long length = head_length(c, head_len);
    bool chunked = memmem(c->buf, head_len, "chunked", 7) != NULL;

    switch (atomic_load(&c->f->mode)) {
    case FAKE_OK:
    case FAKE_RACE: {
        char body[64];
        int n = snprintf(body, sizeof body, "conn=%d req=%d\n", c->number, req);

        if (atomic_load(&c->f->mode) == FAKE_RACE && req > 1)
            return false; /* closes just as the request arrives */
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, body);
        consume(c, head_len);
        return send_str(c->fd, out);
    }
    case FAKE_HEADERS:
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.*s", head_len,
                 (int)head_len, c->buf);
        consume(c, head_len);
        return send_str(c->fd, out);
    case FAKE_HANG: wait_readable(c->f, c->fd); return false;
    case FAKE_CUT:
        memset(out, 'x', 1000);
        if (send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"))
            send_all(c->fd, out, 1000);
        return false;
    case FAKE_CUT_CHUNK:
        send_str(c->fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        return false;
    case FAKE_CLTE:
        send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n5\r\nhello\r\n0\r\n\r\n");
        return false;
    case FAKE_TWO_CL:
        send_str(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
        return false;
    case FAKE_ECHO:
        consume(c, head_len);
        return chunked ? echo_chunked(c) : echo_length(c, length < 0 ? 0 : length);
    case FAKE_SSE: consume(c, head_len); return answer_sse(c);
    case FAKE_CLOSE: return false;
    case FAKE_BIG: consume(c, head_len); return answer_big(c);
    case FAKE_HOP_HEAD:
        consume(c, head_len);
        return send_str(c->fd, "HTTP/1.1 203 Fine By Me\r\nServer: fake-upstream\r\n"
                               "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                               "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"
                               "Keep-Alive: timeout=5\r\nX-Kept: yes  \r\n"
                               "Content-Length: 5\r\n\r\nhello");
    case FAKE_BIG_HEAD: {
        bool ok = answer_big_head(c, head_len);

        consume(c, head_len);
        return ok;
    }
    case FAKE_INTERIM:
        consume(c, head_len);
        return send_str(c->fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                               "Link: </a.css>; rel=preload\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    return false;
}

static void *conn_main(void *arg)
{
    struct fake_conn *c = arg;

    for (int req = 1;; req++) {
        size_t head_len = read_head(c);

        if (head_len == 0 || !answer(c, req, head_len))
            break;
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fake *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        struct fake_conn *c;
        pthread_t th;
        int fd;

        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        c = calloc(1, sizeof *c);
        c->f = f;
        c->fd = fd;
        c->number = atomic_fetch_add(&f->accepted, 1) + 1;
        if (pthread_create(&th, NULL, conn_main, c) == 0)
            pthread_detach(th);
    }
    close(f->lfd);
    return NULL;
}

/* A socket bound to 127.0.0.1 on an ephemeral port; *port gets it. */
static int bind_any(unsigned *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0, "%s", strerror(errno));
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

void fake_start(struct fake *f, enum fake_mode mode)
{
    memset(f, 0, sizeof *f);
    atomic_store(&f->mode, (int)mode);
    f->lfd = bind_any(&f->port);
    cr_assert_eq(listen(f->lfd, 64), 0);
    cr_assert_eq(pthread_create(&f->th, NULL, accept_main, f), 0);
}

void fake_kill(struct fake *f)
{
    if (f->port == 0 || atomic_exchange(&f->stop, 1))
        return;
    pthread_join(f->th, NULL);
}

unsigned fake_dead_port(void)
{
    unsigned port;

    close(bind_any(&port));
    return port;
}

unsigned fake_stalled_port(int fds[2])
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    unsigned port;

    fds[0] = bind_any(&port);
    cr_assert_eq(listen(fds[0], 0), 0);
    /* the one connection a queue of 0 holds fills it */
    fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    cr_assert_eq(connect(fds[1], (struct sockaddr *)&sin, sizeof sin), 0, "%s", strerror(errno));
    return port;
}
