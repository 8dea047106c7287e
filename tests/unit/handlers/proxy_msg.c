/* proxy_msg.c - tests for server/handlers/proxy_msg.c: the upstream target and the response parser.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "handlers/proxy_internal.h"

static struct proxy_resp r;

/* Feeds text whole, following every pause, as the handler does; returns
 * -1 when the parser refused it, else 0, with the body bytes in body. */
static int feed_all(const char *text, bool head_only, char *body, size_t cap)
{
    size_t off = 0, len = strlen(text), n = 0;

    proxy_resp_init(&r, "test-upstream", head_only);
    body[0] = '\0';
    for (int guard = 0; guard < 1000 && !r.done; guard++) {
        ssize_t k = proxy_resp_feed(&r, text + off, len - off);

        if (k < 0)
            return -1;
        off += (size_t)k;
        if (r.body_len && n + r.body_len < cap) {
            memcpy(body + n, r.body, r.body_len);
            n += r.body_len;
            body[n] = '\0';
        }
        if (off == len && !r.body)
            break;
    }
    return 0;
}

Test(proxy_msg, a_chunked_response_is_decoded_and_ends)
{
    char body[64];

    cr_assert_eq(feed_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                          false, body, sizeof body),
                 0);
    cr_assert(r.head_ready);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(body, "abcde");
    cr_assert(r.done);
    cr_assert(r.keep_alive);
}

Test(proxy_msg, interim_heads_are_skipped)
{
    char body[64];

    cr_assert_eq(feed_all("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                          "Content-Length: 2\r\nConnection: close\r\n\r\nok",
                          false, body, sizeof body),
                 0);
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(body, "ok");
    cr_assert(r.done);
    cr_assert_not(r.keep_alive, "Connection: close");
}

Test(proxy_msg, head_204_and_304_have_no_body)
{
    char body[64];

    cr_assert_eq(feed_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, body, sizeof body),
                 0);
    cr_assert(r.done, "HEAD: the length is the GET's, no body follows");
    cr_assert_eq(feed_all("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, body,
                          sizeof body),
                 0);
    cr_assert(r.done);
    cr_assert_str_eq(body, "");
}

Test(proxy_msg, malformed_responses_are_refused)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTXP/1.1 200 OK\r\n\r\n",
    };
    char body[64];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(feed_all(bad[i], false, body, sizeof body), -1, "accepted: %s", bad[i]);
}

Test(proxy_msg, the_head_sent_on_drops_hop_by_hop_headers)
{
    char body[64], head[1024];
    int n;

    cr_assert_eq(feed_all("HTTP/1.1 200 Fine\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
                          "X-End: 2\r\nContent-Length: 0\r\n\r\n",
                          false, body, sizeof body),
                 0);
    n = proxy_resp_head_text(&r, head, sizeof head);
    cr_assert_gt(n, 0);
    head[n] = '\0';
    cr_assert_str_eq(head, "HTTP/1.1 200 Fine\r\nX-End: 2\r\nContent-Length: 0\r\n\r\n");
}

Test(proxy_msg, the_target_keeps_what_the_client_wrote)
{
    struct proxy_conf c = {.strip_prefix = false};
    char out[256];
    const char *path = "/api/a b";

    cr_assert_eq(
        proxy_target(&c, "/api/a%20b", 10, "q=%41", 5, path, 8, path + 4, 4, out, sizeof out), 16);
    cr_assert_str_eq(out, "/api/a%20b?q=%41");
    c.strip_prefix = true;
    cr_assert_eq(proxy_target(&c, "/api/a%20b", 10, "", 0, path, 8, path + 4, 4, out, sizeof out),
                 6);
    cr_assert_str_eq(out, "/a%20b");
    /* the prefix itself percent-encoded: the rest is encoded again */
    cr_assert_gt(proxy_target(&c, "/%61pi/a%20b", 12, "", 0, path, 8, path + 4, 4, out, sizeof out),
                 0);
    cr_assert_str_eq(out, "/a%20b");
    cr_assert_eq(proxy_target(&c, "/api", 4, "", 0, "/api", 4, "/", 1, out, sizeof out), 1);
    cr_assert_str_eq(out, "/");
}

Test(proxy_msg, refusals_that_rest_on_llhttp_or_on_our_checks)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 O\x7fK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX\x7f: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x7f\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: \x1b[0m\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 9007199254740993\r\n\r\n",
    };
    char body[64];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(feed_all(bad[i], false, body, sizeof body), -1, "accepted: %s", bad[i]);
}

Test(proxy_msg, lines_trimmed_and_the_length_read)
{
    char body[64], lines[1024];
    int n;

    cr_assert_eq(feed_all("HTTP/1.1 200 OK\r\nServer: up\r\nConnection: close, X-Hop\r\n"
                          "X-Hop: 1\r\nContent-Length: 2\r\nETag: \"e\"  \r\n\r\nok",
                          false, body, sizeof body),
                 0);
    cr_assert_eq(r.content_length, 2);
    n = proxy_resp_header_lines(&r, lines, sizeof lines);
    cr_assert_gt(n, 0);
    lines[n] = '\0';
    cr_assert_str_eq(lines, "Server: up\r\nContent-Length: 2\r\nETag: \"e\"\r\n");
    cr_assert_eq(feed_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false,
                          body, sizeof body),
                 0);
    cr_assert_eq(r.content_length, -1);
}

Test(proxy_msg, a_head_moved_elsewhere_reads_the_same)
{
    static const char text[] =
        "HTTP/1.1 200 Fine\r\nX-A: 1\r\nX-B: two\r\nContent-Length: 0\r\n\r\n";
    char from[sizeof text], to[sizeof text], lines[256], head[256];
    int n;

    memcpy(from, text, sizeof text);
    proxy_resp_init(&r, "test-upstream", false);
    cr_assert_eq(proxy_resp_feed(&r, from, sizeof text - 1), (ssize_t)sizeof text - 1);
    cr_assert(r.head_ready);
    memcpy(to, from, sizeof text);
    proxy_resp_rebase(&r, from, sizeof text - 1, to);
    memset(from, '#', sizeof from);
    n = proxy_resp_head_text(&r, head, sizeof head);
    cr_assert_gt(n, 0);
    head[n] = '\0';
    cr_assert_str_eq(head, "HTTP/1.1 200 Fine\r\nX-A: 1\r\nX-B: two\r\nContent-Length: 0\r\n\r\n");
    n = proxy_resp_header_lines(&r, lines, sizeof lines);
    cr_assert_gt(n, 0);
}
