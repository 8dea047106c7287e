/* Integration: pipelined requests, bodies, and requests split at every byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void start(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    site_write(&d, "b.txt", "bravo!\n", 7);
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0); }

TestSuite(pipeline, .init = start, .fini = stop);

static void send_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        cr_assert_gt(n, 0, "send failed");
        off += (size_t)n;
    }
}

Test(pipeline, one_to_32_requests_in_one_write_are_answered_in_order)
{
    for (int n = 1; n <= 32; n++) {
        char req[32 * 128], expect[32 * 16];
        size_t len = 0, elen = 0, got;
        int fd = tcp_connect(d.port);
        char *out;
        const char *p;

        for (int i = 0; i < n; i++) {
            const char *name = i % 2 ? "b.txt" : "a.txt";

            len += (size_t)snprintf(req + len, sizeof req - len,
                                    "GET /%s HTTP/1.1\r\nHost: x\r\nX-Seq: %d\r\n\r\n", name, i);
            elen += (size_t)snprintf(expect + elen, sizeof expect - elen, "%s",
                                     i % 2 ? "bravo!\n" : "alpha\n");
        }
        send_all(fd, req, len);
        out = read_responses(fd, n, HARNESS_WAIT_MS, &got);
        cr_assert_eq(response_count(out, got), n, "pipeline of %d: got %d responses", n,
                     response_count(out, got));
        /* The bodies come back in request order. */
        p = out;
        for (int i = 0; i < n; i++) {
            const char *body = strstr(p, "\r\n\r\n");

            cr_assert_not_null(body);
            body += 4;
            cr_assert_eq(strncmp(body, i % 2 ? "bravo!\n" : "alpha\n", i % 2 ? 7 : 6), 0,
                         "response %d of %d is out of order", i, n);
            p = body;
        }
        free(out);
        close(fd);
    }
}

Test(pipeline, requests_with_bodies_in_a_pipeline)
{
    /* A POST to a static route is refused (405) and its body skipped, so
     * the requests after it are still read correctly. */
    const char *req = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                      "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                      "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = tcp_connect(d.port);
    size_t got;
    char *out;

    send_all(fd, req, strlen(req));
    out = read_responses(fd, 4, HARNESS_WAIT_MS, &got);
    cr_assert_eq(response_count(out, got), 4, "%s", out);
    cr_assert_eq(response_status(out), 405, "%s", out);
    cr_assert(strstr(out, "Allow: GET, HEAD"), "%s", out);
    cr_assert(strstr(out, "bravo!\n"), "%s", out);
    cr_assert(got >= 6 && memcmp(out + got - 6, "alpha\n", 6) == 0, "%s", out);
    free(out);
    close(fd);
}

Test(pipeline, a_request_split_at_every_byte_boundary)
{
    const char *req = "GET /a.txt HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n";
    size_t len = strlen(req);

    for (size_t cut = 1; cut < len; cut++) {
        int fd = tcp_connect(d.port);
        size_t got;
        char *out;

        send_all(fd, req, cut);
        usleep(2000); /* the server sees the first part alone */
        send_all(fd, req + cut, len - cut);
        out = read_responses(fd, 1, HARNESS_WAIT_MS, &got);
        cr_assert_eq(response_status(out), 200, "split at %zu: %s", cut, out);
        cr_assert(got >= 6 && memcmp(out + got - 6, "alpha\n", 6) == 0, "split at %zu", cut);
        free(out);
        close(fd);
    }
}

Test(pipeline, a_pipeline_sent_one_byte_at_a_time)
{
    const char *req =
        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = tcp_connect(d.port);
    size_t got;
    char *out;

    for (size_t i = 0; req[i]; i++)
        send_all(fd, req + i, 1);
    out = read_responses(fd, 2, HARNESS_WAIT_MS, &got);
    cr_assert_eq(response_count(out, got), 2, "%s", out);
    cr_assert(got >= 7 && memcmp(out + got - 7, "bravo!\n", 7) == 0, "%s", out);
    free(out);
    close(fd);
}
