/* Integration: the [limits] timeouts and sizes, Expect, HEAD and the headers every response has. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Small limits so that every timeout fires within a second or two. */
#define LIMITS_INI                                                                                 \
    "[limits]\n"                                                                                   \
    "header_timeout = 1s\n"                                                                        \
    "body_timeout = 1s\n"                                                                          \
    "keepalive_timeout = 1s\n"                                                                     \
    "send_timeout = 1s\n"                                                                          \
    "max_header_size = 1k\n"                                                                       \
    "max_headers = 8\n"                                                                            \
    "max_body_size = 1k\n"                                                                         \
    "max_keepalive_requests = 3\n"                                                                 \
    "[static /]\n"                                                                                 \
    "root = %ROOT%\n"

/* Far longer than any timeout above: a wait that ends only when the daemon
 * acts, with room for a loaded machine. */
#define WAIT_MS HARNESS_WAIT_MS

static struct daemon d;
static struct daemon extra; /* a second daemon with other settings, if a test starts one */
static const char index_html[] = "<h1>limits</h1>\n";

static void start(void)
{
    daemon_start(&d, LIMITS_INI);
    site_write(&d, "index.html", index_html, sizeof index_html - 1);
}

static void stop(void)
{
    int extra_status = extra.pid > 0 ? daemon_stop(&extra) : 0;

    cr_assert_eq(daemon_stop(&d), 0);
    cr_assert_eq(extra_status, 0);
}

TestSuite(limits, .init = start, .fini = stop, .timeout = 60);

static bool has_header(const char *out, const char *name, const char *value)
{
    char v[256];

    return response_header(out, name, v, sizeof v) && (!value || strcasecmp(v, value) == 0);
}

/* Sends req on a new connection and reads until the daemon closes it (or
 * WAIT_MS of silence); the answer must be status, then a close. */
static void expect_answer_then_close(const char *req, size_t len, int status)
{
    int fd = tcp_connect(d.port);
    bool closed;
    size_t got;
    char *out;

    tcp_send_all(fd, req, len);
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    cr_assert_eq(response_status(out), status, "expected %d, got:\n%s", status, out);
    cr_assert(has_header(out, "Connection", "close"), "no Connection: close:\n%s", out);
    cr_assert_eq(response_count(out, got), 1, "%s", out);
    cr_assert(closed, "the connection stayed open after %d", status);
    free(out);
    close(fd);
}

Test(limits, a_partial_head_gets_408_then_close)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n";

    expect_answer_then_close(req, sizeof req - 1, 408);
}

Test(limits, a_head_trickled_byte_by_byte_gets_408)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n"
                              "Accept: */*\r\nX-Filler: aaaaaaaaaaaaaaaa\r\n\r\n";
    int fd = tcp_connect(d.port);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    bool closed;
    size_t got, sent = 0;
    char *out;

    /* One byte every 200 ms: the whole head would take ~20 s. */
    while (sent < sizeof req - 1 && poll(&pfd, 1, 200) == 0)
        if (tcp_send_all(fd, req + sent, 1))
            sent++;
    cr_assert_lt(sent, sizeof req - 1, "the daemon waited for the whole trickled head");
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    cr_assert_eq(response_status(out), 408, "%s", out);
    cr_assert(closed);
    free(out);
    close(fd);
}

/* Waits for the daemon to close fd, an idle connection, without a word
 * (which names the timeout it is waiting for); then closes it. */
static void expect_silent_close(int fd, const char *which)
{
    bool closed;
    size_t got;
    char *out = read_until_idle(fd, WAIT_MS, &got, &closed);

    cr_assert(closed, "an idle connection was kept past %s", which);
    cr_assert_eq(got, 0, "nothing is answered to an idle connection: %s", out);
    free(out);
    close(fd);
}

Test(limits, a_connection_that_sends_nothing_is_closed_silently)
{
    expect_silent_close(tcp_connect(d.port), "header_timeout");
}

Test(limits, an_idle_keepalive_connection_is_closed_silently)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = tcp_connect(d.port);
    size_t got;
    char *out;

    tcp_send_all(fd, req, sizeof req - 1);
    out = read_responses(fd, 1, WAIT_MS, &got);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_not(has_header(out, "Connection", NULL), "%s", out);
    free(out);
    expect_silent_close(fd, "keepalive_timeout");
}

Test(limits, a_connection_busy_for_longer_than_keepalive_timeout_stays_open)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd;
    size_t got;
    char *out;

    /* Requests 300 ms apart for 3.6 s, with keepalive_timeout = 3s: the
     * idle timer armed after the first one fires while the connection is
     * in use, and must only wait for the latest idle spell. */
    daemon_start(&extra, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[limits]\n"
                         "keepalive_timeout = 3s\n[static /]\nroot = %ROOT%\n");
    site_write(&extra, "index.html", index_html, sizeof index_html - 1);
    fd = tcp_connect(extra.port);
    for (int i = 0; i < 12; i++) {
        if (i > 0)
            usleep(300 * 1000);
        cr_assert(tcp_send_all(fd, req, sizeof req - 1), "request %d: the connection is gone", i);
        out = read_responses(fd, 1, WAIT_MS, &got);
        cr_assert_eq(response_status(out), 200, "request %d: %s\nlog: %s", i, out,
                     file_slurp(extra.log));
        free(out);
    }
    expect_silent_close(fd, "keepalive_timeout"); /* once idle for that long */
}

Test(limits, a_stalled_body_gets_408_then_close)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789";

    expect_answer_then_close(req, sizeof req - 1, 408);
}

Test(limits, a_client_that_never_reads_is_dropped_and_others_are_served)
{
    static const char req[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char small[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t size = 16u << 20, got;
    char *big = malloc(size), *out;
    int rcvbuf = 4096, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool closed;

    /* A long keepalive_timeout: only send_timeout may end this connection. */
    daemon_start(&extra, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[limits]\n"
                         "send_timeout = 1s\nkeepalive_timeout = 60s\n[static /]\nroot = %ROOT%\n");
    site_write(&extra, "index.html", index_html, sizeof index_html - 1);
    cr_assert_not_null(big);
    memset(big, 'b', size);
    site_write(&extra, "big.bin", big, size);
    free(big);
    sin.sin_port = htons((uint16_t)extra.port);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert_eq(poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, WAIT_MS), 1,
                 "the answer did not begin: %s", file_slurp(extra.log));
    /* While that response is stuck, and after send_timeout, the same worker
     * serves others. */
    for (int round = 0; round < 2; round++) {
        out = raw_exchange(extra.port, small, sizeof small - 1, 300, &got, &closed);
        cr_assert_eq(response_status(out), 200, "%s", out);
        free(out);
        if (round == 0)
            cr_assert(tcp_server_closed(fd, WAIT_MS),
                      "the daemon kept a connection that did not read for send_timeout: %s",
                      file_slurp(extra.log));
    }
    /* Reading now gets what was queued before the daemon gave up, then the end. */
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    cr_assert(closed, "the daemon kept a connection that did not read for send_timeout");
    cr_assert_lt(got, size, "the whole %zu bytes arrived: the send did not time out", size);
    free(out);
    close(fd);
}

Test(limits, a_long_header_section_gets_431)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %01500d\r\n\r\n", 7);

    expect_answer_then_close(req, (size_t)n, 431);
}

Test(limits, a_long_request_line_gets_414)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "GET /%01500d HTTP/1.1\r\nHost: x\r\n\r\n", 7);

    expect_answer_then_close(req, (size_t)n, 414);
}

Test(limits, too_many_header_fields_get_431)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\n");

    for (int i = 0; i < 9; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-H%d: v\r\n", i);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    expect_answer_then_close(req, (size_t)n, 431);
}

Test(limits, eight_header_fields_are_fine)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
                              "E: 5\r\nF: 6\r\nG: 7\r\n\r\n";
    size_t got;
    bool closed;
    char *out = raw_exchange(d.port, req, sizeof req - 1, 300, &got, &closed);

    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
}

Test(limits, a_content_length_over_max_body_size_gets_413)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n";

    expect_answer_then_close(req, sizeof req - 1, 413);
}

Test(limits, a_chunked_body_over_max_body_size_gets_413)
{
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");

    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n");
        memset(req + n, 'c', 400);
        n += 400;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    expect_answer_then_close(req, (size_t)n, 413);
}

Test(limits, a_body_within_max_body_size_is_read_and_the_connection_kept)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
    int fd = tcp_connect(d.port);
    size_t got;
    char *out;

    memset(req + n, 'k', 1024);
    n += 1024;
    n += snprintf(req + n, sizeof req - (size_t)n, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp_send_all(fd, req, (size_t)n);
    out = read_responses(fd, 2, WAIT_MS, &got);
    cr_assert_eq(responses_complete(out, got, false), 2, "%s", out);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_not(has_header(out, "Connection", NULL), "%s", out);
    free(out);
    close(fd);
}

Test(limits, the_last_keepalive_request_is_answered_with_close)
{
    static const char one[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char req[sizeof one * 4];
    int fd = tcp_connect(d.port);
    bool closed;
    size_t got;
    char *out;
    const char *p;

    for (int i = 0; i < 4; i++)
        memcpy(req + i * (sizeof one - 1), one, sizeof one - 1);
    tcp_send_all(fd, req, 4 * (sizeof one - 1));
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    cr_assert_eq(response_count(out, got), 3, "max_keepalive_requests = 3 answers 3:\n%s", out);
    cr_assert(closed);
    /* Responses 1 and 2 keep the connection; response 3 says close. */
    p = out;
    for (int i = 0; i < 3; i++) {
        const char *end = strstr(p, "\r\n\r\n");
        const char *close_hdr = strstr(p, "Connection: close\r\n");

        cr_assert_not_null(end);
        cr_assert_eq(close_hdr && close_hdr < end, i == 2, "response %d:\n%s", i + 1, out);
        p = strstr(end, "HTTP/1.1 ") ? strstr(end, "HTTP/1.1 ") : end + 4;
    }
    free(out);
    close(fd);
}

Test(limits, expect_100_continue_on_a_static_get_is_answered_without_100)
{
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    int fd = tcp_connect(d.port);
    bool closed;
    size_t got;
    char *out;

    /* The body is held back, as a client waiting for 100 Continue does. */
    tcp_send_all(fd, req, sizeof req - 1);
    out = read_until_idle(fd, WAIT_MS, &got, &closed);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_null(strstr(out, "100 Continue"), "%s", out);
    cr_assert(has_header(out, "Connection", "close"), "%s", out);
    cr_assert(closed, "the unread body leaves the framing unknown: close");
    free(out);
    close(fd);
}

Test(limits, an_unknown_expectation_gets_417)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n";

    expect_answer_then_close(req, sizeof req - 1, 417);
}

Test(limits, head_never_has_a_body)
{
    /* Three requests: the third is the last max_keepalive_requests allows. */
    static const char heads[] = "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                                "HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char *status[] = {"HTTP/1.1 200 ", "HTTP/1.1 404 ", "HTTP/1.1 200 "};
    size_t size = 100000, got;
    char *big = malloc(size), *out;
    const char *p;
    bool closed;

    memset(big, 'h', size);
    site_write(&d, "big.bin", big, size);
    free(big);
    out = raw_exchange(d.port, heads, sizeof heads - 1, WAIT_MS, &got, &closed);
    /* Each head is followed at once by the next response: no body bytes. */
    p = out;
    for (int i = 0; i < 3; i++) {
        const char *end = strstr(p, "\r\n\r\n");

        cr_assert_eq(strncmp(p, status[i], strlen(status[i])), 0, "response %d:\n%s", i + 1, out);
        cr_assert_not_null(end);
        cr_assert_null(memmem(p, (size_t)(end - p), "Transfer-Encoding", 17));
        p = end + 4;
    }
    cr_assert_str_eq(p, index_html, "only the GET has a body:\n%s", out);
    cr_assert(strstr(out, "Content-Length: 100000\r\n"), "HEAD keeps the length:\n%s", out);
    free(out);
}

/* Every response the daemon sends, good or bad, carries Date, and Server
 * when server_header is set; one that says Connection: close closes. */
static void check_common_headers(unsigned port, bool server)
{
    static const char *reqs[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n",
    };

    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        int fd = tcp_connect(port);
        size_t got;
        char *out;

        tcp_send_all(fd, reqs[i], strlen(reqs[i]));
        out = read_responses_to(fd, 1, strncmp(reqs[i], "HEAD", 4) == 0, WAIT_MS, &got);
        cr_assert_gt(response_status(out), 0, "request %zu:\n%s", i, out);
        cr_assert(has_header(out, "Date", NULL), "no Date:\n%s", out);
        cr_assert_eq(has_header(out, "Server", NULL), server, "Server header:\n%s", out);
        if (server)
            cr_assert(has_header(out, "Server", "cohttpd"), "%s", out);
        if (has_header(out, "Connection", "close"))
            cr_assert(wait_closed(fd, WAIT_MS), "Connection: close, yet open:\n%s", out);
        free(out);
        close(fd);
    }
}

Test(limits, every_response_has_date_and_server) { check_common_headers(d.port, true); }

Test(limits, an_empty_server_header_sends_none)
{
    daemon_start(&extra, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\nserver_header =\n"
                         "[limits]\nheader_timeout = 1s\n[static /]\nroot = %ROOT%\n");
    site_write(&extra, "index.html", index_html, sizeof index_html - 1);
    check_common_headers(extra.port, false);
}
