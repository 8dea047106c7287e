/* floor.c - the epoll floor for tests/bench/run: the least work any epoll
 * server can do per request. One listener per port, level-triggered epoll, one
 * read per readiness, every request head (CRLFCRLF) answered with the same
 * fixed response (a 612-byte body under a head shaped like cohttpd's) in one
 * write; no parsing, no files, no timers, no logging. Like cohttpd, the
 * listener carries TCP_NODELAY (inherited by accepted sockets) and
 * TCP_DEFER_ACCEPT, and a new connection is read at once.
 *   floor PORT [CLOSE_PORT]   connections to CLOSE_PORT get "Connection:
 *                             close" and are closed after their first answer */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
#define BATCH  64 /* answers per write; a deeper pipeline takes several */

static const char line[] = "cohttpd benchmark file: the same bytes for every server under test.\n";
static char resp[2][BATCH * 1024]; /* BATCH copies: keep-alive, close */
static size_t resp_len[2];
static uint8_t matched[MAX_FD]; /* bytes of "\r\n\r\n" seen at the end of the last read */

static void make_response(int close_it)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                               "Accept-Ranges: bytes\r\nETag: \"a74663-18ee140e41fd5d79-264\"\r\n"
                               "Last-Modified: Fri, 04 Dec 2026 14:42:32 GMT\r\n"
                               "Vary: Accept-Encoding\r\nDate: Fri, 04 Dec 2026 14:42:34 GMT\r\n"
                               "Server: cofloor\r\nContent-Length: 612\r\n";
    char one[1024];
    size_t n = (size_t)snprintf(one, sizeof one, "%s%s\r\n", head,
                                close_it ? "Connection: close\r\n" : "");

    for (size_t i = 0; i < 612; i++)
        one[n + i] = line[i % (sizeof line - 1)];
    n += 612;
    for (int i = 0; i < BATCH; i++)
        memcpy(resp[close_it] + (size_t)i * n, one, n);
    resp_len[close_it] = n;
}

static int listen_on(int ep, int port, uint64_t tag)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag << 32 | (uint32_t)fd};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Counts the heads ending in buf, carrying a partial "\r\n\r\n" across reads. */
static int count_heads(int fd, const char *buf, ssize_t n)
{
    static const char end[] = "\r\n\r\n";
    int heads = 0;
    uint8_t m = matched[fd];

    for (ssize_t i = 0; i < n; i++) {
        m = buf[i] == end[m] ? (uint8_t)(m + 1) : (buf[i] == '\r' ? 1 : 0);
        if (m == 4) {
            heads++;
            m = 0;
        }
    }
    matched[fd] = m;
    return heads;
}

/* One read; every head in it answered, BATCH answers to a write. Returns
 * whether the connection was closed. */
static int serve(int fd, int close_it)
{
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    int heads, done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);

    if (n < 0)
        heads = 0;
    else
        heads = count_heads(fd, buf, n);
    if (close_it && heads > 0)
        done = 1;
    for (int k; heads > 0; heads -= k) {
        k = heads < BATCH ? heads : BATCH;
        size_t len = (size_t)k * resp_len[close_it];
        if (write(fd, resp[close_it], len) != (ssize_t)len) {
            done = 1; /* a full socket buffer: the floor does not queue */
            break;
        }
    }
    if (done) {
        matched[fd] = 0;
        close(fd); /* also leaves the epoll set */
    }
    return done;
}

int main(int argc, char **argv)
{
    int ep = epoll_create1(0);
    struct epoll_event evs[256];

    if (argc < 2 || listen_on(ep, atoi(argv[1]), 1) < 0 ||
        (argc > 2 && listen_on(ep, atoi(argv[2]), 3) < 0)) {
        perror("floor: usage: floor PORT [CLOSE_PORT]");
        return 1;
    }
    make_response(0);
    make_response(1);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = (int)(uint32_t)evs[i].data.u64, tag = (int)(evs[i].data.u64 >> 32);
            if (!(tag & 1)) {
                serve(fd, tag >> 1);
                continue;
            }
            int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
            if (c < 0 || c >= MAX_FD) {
                if (c >= 0)
                    close(c);
                continue;
            }
            if (serve(c, tag >> 1))
                continue;
            struct epoll_event ev = {.events = EPOLLIN,
                                     .data.u64 = (uint64_t)(tag & 2) << 32 | (uint32_t)c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
    }
}
