/* Integration: the daemon serves files to curl and libcurl, with keep-alive. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void start(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "index.html", "<h1>hello</h1>\n", 15);
    site_write(&d, "dir/page.txt", "page\n", 5);
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "cohttpd must exit 0 on SIGTERM"); }

TestSuite(basic, .init = start, .fini = stop);

Test(basic, curl_gets_the_index)
{
    char out[4096];
    int rc = run_cmd(out, sizeof out, "curl -sS -i http://127.0.0.1:%u/", d.port);

    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
    cr_assert(strstr(out, "Content-Length: 15\r\n"), "%s", out);
    cr_assert(strstr(out, "Content-Type: text/html; charset=utf-8\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nDate: "), "%s", out);
    cr_assert(strstr(out, "\r\nServer: cohttpd\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\n\r\n<h1>hello</h1>\n"), "%s", out);
}

Test(basic, head_has_length_and_no_body)
{
    char req[128], *out;
    size_t len;
    bool closed;
    int n = snprintf(req, sizeof req, "HEAD /dir/page.txt HTTP/1.1\r\nHost: x\r\n\r\n");

    out = raw_exchange(d.port, req, (size_t)n, 300, &len, &closed);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert(strstr(out, "Content-Length: 5\r\n"), "%s", out);
    cr_assert(len >= 4 && strcmp(out + len - 4, "\r\n\r\n") == 0, "no body after a HEAD: %s", out);
    cr_assert_not(closed, "HTTP/1.1 keeps the connection open");
    free(out);
}

Test(basic, missing_file_is_404_with_a_text_body)
{
    char out[4096];

    run_cmd(out, sizeof out, "curl -s -i http://127.0.0.1:%u/nope.html", d.port);
    cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n"), "%s", out);
    cr_assert(strstr(out, "Content-Type: text/plain"), "%s", out);
    cr_assert(strstr(out, "404"), "%s", out);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    *(size_t *)ud += s * n;
    return s * n;
}

Test(basic, libcurl_reuses_one_connection)
{
    CURL *c = curl_easy_init();
    char url[128];
    size_t got = 0;
    long conns = 0, total = 0;

    cr_assert_not_null(c);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/dir/page.txt", d.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    for (int i = 0; i < 50; i++) {
        long code = 0, n = 0;

        cr_assert_eq(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
        cr_assert_eq(code, 200);
        conns += n;
        total++;
    }
    cr_assert_eq(got, 5 * 50);
    cr_assert_eq(conns, 1, "50 requests must share one keep-alive connection, used %ld", conns);
    curl_easy_cleanup(c);
}

Test(basic, http10_closes_unless_keep_alive)
{
    const char *plain = "GET /dir/page.txt HTTP/1.0\r\n\r\n";
    const char *ka = "GET /dir/page.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    size_t len;
    bool closed;
    char *out = raw_exchange(d.port, plain, strlen(plain), HARNESS_WAIT_MS, &len, &closed);

    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert(closed);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    free(out);
    out = raw_exchange(d.port, ka, strlen(ka), 300, &len, &closed);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_not(closed);
    free(out);
}

/* RFC 9112 §2.3: a higher minor version of HTTP/1 is served as HTTP/1.1,
 * keep-alive included; a later request on the same connection proves it
 * stayed open. HTTP/2.0 stays an error. */
Test(basic, http12_is_served_as_http11)
{
    const char *two = "GET /dir/page.txt HTTP/1.2\r\nHost: a\r\n\r\n"
                      "GET /dir/page.txt HTTP/1.2\r\nHost: a\r\n\r\n";
    const char *last = "GET /dir/page.txt HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n";
    const char *h2 = "GET / HTTP/2.0\r\nHost: a\r\n\r\n";
    int fd = tcp_connect(d.port);
    size_t len;
    bool closed;
    char *out;

    cr_assert(tcp_send_all(fd, two, strlen(two)));
    out = read_responses(fd, 2, HARNESS_WAIT_MS, &len);
    cr_assert_eq(responses_complete(out, len, false), 2, "%s", out);
    cr_assert_eq(response_count(out, len), 2, "both answers say HTTP/1.1: %s", out);
    cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "%s", out);
    cr_assert_null(strstr(out, "Connection: close"), "%s", out);
    cr_assert(strstr(out, "\r\n\r\npage\n"), "%s", out);
    free(out);
    cr_assert(tcp_send_all(fd, last, strlen(last)), "the connection stayed open");
    out = read_until_idle(fd, HARNESS_WAIT_MS, &len, &closed);
    cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "%s", out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(closed, "Connection: close is honoured as in 1.1");
    free(out);
    close(fd);
    out = raw_exchange(d.port, h2, strlen(h2), HARNESS_WAIT_MS, &len, &closed);
    cr_assert_eq(response_status(out), 505, "%s", out);
    free(out);
}

Test(basic, connection_close_is_honoured)
{
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    size_t len;
    bool closed;
    char *out = raw_exchange(d.port, req, strlen(req), HARNESS_WAIT_MS, &len, &closed);

    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(closed);
    free(out);
}

Test(basic, a_large_file_arrives_whole)
{
    size_t size = 3 * 1024 * 1024 + 17;
    char *big = malloc(size), out[256];

    for (size_t i = 0; i < size; i++)
        big[i] = (char)('a' + i % 26);
    site_write(&d, "big.bin", big, size);
    free(big);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS http://127.0.0.1:%u/big.bin | cmp - %s/big.bin && echo same",
                         d.port, d.root),
                 0);
    cr_assert_str_eq(out, "same\n");
}

/* A client that asks to close but sends a body the daemon does not read
 * (it arrives after the answer began) still gets the whole large response:
 * the close lingers, reading the body, instead of letting the body's
 * arrival reset the connection while the response is still queued. */
Test(basic, an_unread_body_does_not_cut_the_response_short)
{
    static const char head[] = "GET /slow.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                               "Content-Length: 1000000\r\n\r\n";
    size_t size = 256 * 1024, body_len, got;
    char *file = malloc(size), *chunk = calloc(1, 200000), *out;
    const char *body;
    int fd, rcvbuf = 16384;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)d.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    cr_assert_not_null(file);
    cr_assert_not_null(chunk);
    for (size_t i = 0; i < size; i++)
        file[i] = (char)('A' + i % 23);
    site_write(&d, "slow.bin", file, size);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    /* A small receive window: most of the response waits in the daemon's
     * socket when it closes, where a reset would throw it away. */
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert(tcp_send_all(fd, head, sizeof head - 1));
    /* The daemon answers and fills its socket meanwhile. */
    cr_assert_eq(poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, HARNESS_WAIT_MS), 1,
                 "the answer did not begin");
    cr_assert(tcp_send_all(fd, chunk, 200000), "part of the body, never used by the daemon");
    usleep(200 * 1000);
    out = read_responses(fd, 1, 10000, &got);
    close(fd);
    cr_assert_eq(response_status(out), 200, "%.300s", out);
    body = response_body(out, got, &body_len);
    cr_assert_not_null(body);
    cr_assert_eq(body_len, size, "%zu of %zu bytes arrived", body_len, size);
    cr_assert_eq(memcmp(body, file, size), 0);
    free(out);
    free(chunk);
    free(file);
}
