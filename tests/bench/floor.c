/* floor.c - the epoll floor: the least work a server can do per request, for tests/bench/run.
 *
 * floor PORT: listens on 127.0.0.1:PORT; level-triggered epoll; on readiness
 * one read of what is there, the request heads in it counted (each
 * "\r\n\r\n", also across reads), and each answered with the same fixed
 * response (612 bytes of body) in one write. No parsing, no files, no
 * timers, no logging. The one look inside a request: a read of one head
 * holding "Connection: close" is answered with Connection: close, and the
 * connection closed (the close scenario). A write the socket does not take whole closes the
 * connection (the benchmark's answers always fit).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS   65536
#define MAX_HEADS 256

static char answer[MAX_HEADS * 700];
static size_t answer_len;      /* one response */
static char answer_close[700]; /* the same with Connection: close */
static size_t answer_close_len;
static unsigned char matched[MAX_FDS]; /* bytes of "\r\n\r\n" seen at the end of the last read */

/* Counts the heads ending in buf[0..n), carrying the partial match in *m. */
static unsigned count_heads(const char *buf, size_t n, unsigned char *m)
{
    static const char end[] = "\r\n\r\n";
    unsigned heads = 0;

    for (size_t i = 0; i < n; i++) {
        *m = buf[i] == end[*m] ? (unsigned char)(*m + 1) : (buf[i] == '\r' ? 1 : 0);
        if (*m == 4) {
            heads++;
            *m = 0;
        }
    }
    return heads;
}

/* One readiness of client fd: false when it must be closed. */
static bool serve(int fd)
{
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    unsigned heads;

    if (n <= 0)
        return false;
    heads = count_heads(buf, (size_t)n, &matched[fd]);
    if (heads == 0)
        return true;
    if (heads == 1 && memmem(buf, (size_t)n, "Connection: close", 17)) {
        ssize_t w = write(fd, answer_close, answer_close_len);

        (void)w;
        return false; /* closed after its answer */
    }
    return heads <= MAX_HEADS &&
           write(fd, answer, heads * answer_len) == (ssize_t)(heads * answer_len);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct epoll_event ev = {.events = EPOLLIN}, evs[256];
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0);
    char body[613];

    if (argc != 2)
        return fprintf(stderr, "usage: floor PORT\n"), 2;
    memset(body, 'x', 612);
    body[612] = '\0';
    answer_len = (size_t)snprintf(answer, sizeof answer,
                                  "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                  "Content-Length: 612\r\n\r\n%s",
                                  body);
    answer_close_len = (size_t)snprintf(answer_close, sizeof answer_close,
                                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                        "Content-Length: 612\r\nConnection: close\r\n\r\n%s",
                                        body);
    for (size_t i = 1; i < MAX_HEADS; i++)
        memcpy(answer + i * answer_len, answer, answer_len);
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0)
        return perror("floor: listen"), 1;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);

        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;

            if (fd == lfd) {
                int c = accept(lfd, NULL, NULL);

                if (c < 0 || c >= MAX_FDS) {
                    if (c >= 0)
                        close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                matched[c] = 0;
                ev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
            } else if (!serve(fd)) {
                close(fd); /* closing removes it from the epoll set */
            }
        }
    }
}
