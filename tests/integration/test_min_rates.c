/* Integration: min_send_rate and min_body_rate, with paced raw-socket clients below and above them.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* Rates far apart from the paced clients below (about 10 KB/s and 1 KB/s
 * for the slow ones, many MB/s for the others), and windows of 2 s. What
 * the kernel buffers counts as taken (up to a few MB for a response), so
 * min_send_rate is high enough for that credit to run out within seconds. */
#define RATES_INI                                                                                  \
    "[limits]\n"                                                                                   \
    "send_timeout = 2s\n"                                                                          \
    "body_timeout = 2s\n"                                                                          \
    "min_send_rate = 1m\n"                                                                         \
    "min_body_rate = 4k\n"                                                                         \
    "[echo /echo]\n"                                                                               \
    "[cgi /cgi-bin/]\n"                                                                            \
    "root = %ROOT%/cgi-bin\n"                                                                      \
    "[static /]\n"                                                                                 \
    "root = %ROOT%\n"

#define BIG_SIZE   (16u << 20)
#define WAIT_MS    10000 /* for an answer the daemon owes */
#define MAX_ROUNDS 600   /* of a paced client: 60 s at most */

static struct daemon d;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 251); }

/* The daemon, big.bin, and cgi-bin/big: a script that answers with
 * big.bin (no length: the response is chunked). */
static void start(void)
{
    unsigned char *big = malloc(BIG_SIZE);
    char script[512], path[700];

    daemon_prepare(&d, RATES_INI);
    cr_assert_not_null(big);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = pattern(i);
    site_write(&d, "big.bin", big, BIG_SIZE);
    free(big);
    snprintf(script, sizeof script,
             "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\n"
             "exec cat '%s/big.bin'\n",
             d.root);
    site_write(&d, "cgi-bin/big", script, strlen(script));
    snprintf(path, sizeof path, "%s/cgi-bin/big", d.root);
    cr_assert_eq(chmod(path, 0755), 0);
    daemon_start_prepared(&d, cohttpd_test_bin());
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(min_rates, .init = start, .fini = stop, .timeout = 120);

/* A connection whose receive buffer is small, so that the daemon's writes
 * wait for the client's reads soon. */
static int connect_small_rcvbuf(void)
{
    int rcvbuf = 4096, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)d.port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

/* A growing receive buffer. */
struct inbox {
    char *buf;
    size_t len, cap;
    bool closed; /* the daemon closed the connection */
    bool idle;   /* or sent nothing for WAIT_MS */
};

/* One paced read: waits pause_ms, then takes at most chunk bytes (waiting
 * up to WAIT_MS for any). The loops below end on closed or idle. */
static void inbox_read(struct inbox *in, int fd, size_t chunk, int pause_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t r;

    if (pause_ms)
        poll(NULL, 0, pause_ms);
    if (in->cap - in->len < chunk) {
        in->cap = (in->cap + chunk) * 2;
        in->buf = realloc(in->buf, in->cap + 1);
        cr_assert_not_null(in->buf);
    }
    if (poll(&pfd, 1, WAIT_MS) <= 0) {
        in->idle = true;
        return;
    }
    r = recv(fd, in->buf + in->len, chunk, 0);
    if (r <= 0)
        in->closed = true;
    else
        in->len += (size_t)r;
    in->buf[in->len] = '\0';
}

/* The body bytes of the response in in so far (0 before its head is in). */
static size_t inbox_body(const struct inbox *in, const char **body)
{
    size_t len = 0;

    *body = in->len ? response_body(in->buf, in->len, &len) : NULL;
    return *body ? len : 0;
}

static bool log_says(const char *needle)
{
    char *log = file_slurp(d.log);
    bool found = strstr(log, needle) != NULL;

    free(log);
    return found;
}

/*
 * Asks for target with a small receive buffer and reads 1 KiB every 100 ms
 * (about 10 KB/s) until the daemon says it gave up on a client below
 * min_send_rate, then what the kernel still holds at full speed; expects
 * the connection closed before the whole answer (over BIG_SIZE bytes)
 * came, and the log line naming the client.
 */
static void expect_slow_reader_cut(const char *target)
{
    static const char needle[] = "below min_send_rate = 1048576";
    struct inbox in = {0};
    char req[256], *log;
    int fd = connect_small_rcvbuf(), rounds = 0,
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     target);

    cr_assert(tcp_send_all(fd, req, (size_t)n));
    while (!in.closed && !in.idle && rounds++ < MAX_ROUNDS && !log_says(needle))
        inbox_read(&in, fd, 1024, 100);
    while (!in.closed && !in.idle)
        inbox_read(&in, fd, 1 << 20, 0);
    close(fd);
    log = file_slurp(d.log);
    cr_assert(in.closed, "the slow reader was still connected; the log:\n%s", log);
    cr_assert_eq(response_status(in.buf), 200, "%.200s", in.buf);
    cr_assert_lt(in.len, BIG_SIZE, "the whole answer reached a reader at 10 KB/s; the log:\n%s",
                 log);
    cr_assert(strstr(log, needle) && strstr(log, "client 127.0.0.1:"),
              "no log line names the client and min_send_rate:\n%s", log);
    free(log);
    free(in.buf);
}

Test(min_rates, a_reader_below_min_send_rate_is_cut_and_the_log_says_why)
{
    expect_slow_reader_cut("/big.bin");
}

/* The same through http_poll(), where a CGI handler waits on the client
 * and on its script at once. */
Test(min_rates, a_slow_reader_of_a_cgi_answer_is_cut_by_min_send_rate)
{
    expect_slow_reader_cut("/cgi-bin/big");
}

Test(min_rates, a_reader_above_min_send_rate_gets_the_whole_file)
{
    static const char req[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct inbox in = {0};
    int fd = tcp_connect(d.port);
    const char *body;
    size_t len;

    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    /* 1 MiB every 2 ms at most: as fast as loopback and the machine go. */
    while (!in.closed && !in.idle)
        inbox_read(&in, fd, 1 << 20, 2);
    len = inbox_body(&in, &body);
    cr_assert(in.closed, "the response did not end");
    cr_assert_eq(response_status(in.buf), 200, "%.200s", in.buf);
    cr_assert_eq(len, BIG_SIZE, "%zu of %u bytes arrived; the log:\n%s", len, BIG_SIZE,
                 file_slurp(d.log));
    for (size_t i = 0; i < len; i++)
        cr_assert_eq((unsigned char)body[i], pattern(i), "byte %zu differs", i);
    free(in.buf);
    close(fd);
}

/* Sends a body of len bytes to /echo in pieces of piece bytes every
 * pause_ms, and stops early when the daemon answers or closes. Returns
 * the bytes sent. */
static size_t upload(int fd, const unsigned char *body, size_t len, size_t piece, int pause_ms)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                     len);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t sent = 0;
    int rounds = 0;

    cr_assert(tcp_send_all(fd, head, (size_t)n));
    while (sent < len && rounds++ < MAX_ROUNDS * 10 && poll(&pfd, 1, pause_ms) == 0) {
        size_t k = len - sent < piece ? len - sent : piece;

        if (!tcp_send_all(fd, body + sent, k))
            break;
        sent += k;
    }
    return sent;
}

Test(min_rates, an_uploader_below_min_body_rate_gets_408_and_the_log_says_why)
{
    static const char needle[] = "below min_body_rate = 4096";
    size_t len = 200 * 1024, sent, got;
    unsigned char *body = calloc(len, 1);
    int fd = tcp_connect(d.port);
    bool closed;
    char *out, *log;

    cr_assert_not_null(body);
    /* 100 bytes every 100 ms: about 1 KB/s. */
    sent = upload(fd, body, len, 100, 100);
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    log = file_slurp(d.log);
    cr_assert_lt(sent, len, "the daemon took the whole trickled body; the log:\n%s", log);
    cr_assert_eq(response_status(out), 408, "%s\nthe log:\n%s", out, log);
    cr_assert(closed, "the connection stayed open after 408");
    cr_assert(strstr(log, needle) && strstr(log, "client 127.0.0.1:"),
              "no log line names the client and min_body_rate:\n%s", log);
    free(log);
    free(out);
    free(body);
    close(fd);
}

Test(min_rates, an_uploader_above_min_body_rate_gets_its_body_back)
{
    size_t len = 512 * 1024, sent, body_len;
    unsigned char *body = malloc(len);
    int fd = tcp_connect(d.port);
    struct inbox in = {0};
    const char *echoed;

    cr_assert_not_null(body);
    for (size_t i = 0; i < len; i++)
        body[i] = pattern(i);
    /* 16 KiB every 10 ms: over 1 MB/s, some 400 times min_body_rate. */
    sent = upload(fd, body, len, 16 * 1024, 10);
    cr_assert_eq(sent, len, "the daemon answered before the body was sent: %s",
                 read_until_idle(fd, WAIT_MS, &(size_t){0}, &(bool){0}));
    while (!in.closed && !in.idle)
        inbox_read(&in, fd, 1 << 20, 0);
    cr_assert_eq(response_status(in.buf), 200, "%.300s", in.buf);
    body_len = inbox_body(&in, &echoed);
    cr_assert_eq(body_len, len, "%zu of %zu bytes came back", body_len, len);
    cr_assert_eq(memcmp(echoed, body, len), 0, "the body came back changed");
    free(in.buf);
    free(body);
    close(fd);
}

/* A body to /echo/stream (echoed as it arrives: the handler waits in
 * http_poll()) sent piece bytes every pause_ms, reading what comes back,
 * until all is sent or the daemon closes. *closed: it closed. Returns the
 * bytes sent. */
static size_t trickle_stream(int fd, size_t len, size_t piece, int pause_ms, bool *closed)
{
    char head[256], buf[65536], zeros[1024] = {0};
    int n = snprintf(head, sizeof head,
                     "POST /echo/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     len);
    size_t sent = 0;
    int rounds = 0;

    cr_assert_leq(piece, sizeof zeros);
    *closed = false;
    cr_assert(tcp_send_all(fd, head, (size_t)n));
    while (sent < len && !*closed && rounds++ < MAX_ROUNDS) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        size_t k = len - sent < piece ? len - sent : piece;

        if (poll(&pfd, 1, pause_ms) > 0) {
            *closed = recv(fd, buf, sizeof buf, 0) <= 0;
            continue;
        }
        if (!tcp_send_all(fd, zeros, k))
            break;
        sent += k;
    }
    return sent;
}

Test(min_rates, a_slow_uploader_to_a_streaming_handler_is_cut_by_min_body_rate)
{
    size_t len = 40 * 1024, sent;
    int fd = tcp_connect(d.port);
    bool closed;
    char *log;

    /* 100 bytes every 100 ms: about 1 KB/s, a quarter of min_body_rate. */
    sent = trickle_stream(fd, len, 100, 100, &closed);
    if (!closed)
        closed = wait_closed(fd, WAIT_MS);
    close(fd);
    log = file_slurp(d.log);
    cr_assert_lt(sent, len, "the daemon took the whole trickled body; the log:\n%s", log);
    cr_assert(closed, "the connection stayed open; the log:\n%s", log);
    cr_assert(strstr(log, "below min_body_rate = 4096") && strstr(log, "client 127.0.0.1:"),
              "no log line names the client and min_body_rate:\n%s", log);
    free(log);
}
